"""The binary Arrow reader on real MariaDB (bulkscan.mysqldb.binary_ranges): numeric columns read as
arrays from a prepared statement equal what mysqlclient reads, the server's count equals a COUNT(*)
of the range, bound filter values stay values, a lost connection is opened again, and a NULL or a
string column hands the read to ConnectorX with the chunk's result still exact."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bulkscan.core.binary_rows import NotFixedWidth
from bulkscan.core.chunks import Chunk
from bulkscan.core.processors import ArrowAggregate, ChunkContext
from bulkscan.mysqldb.binary_ranges import BinaryRanges
from bulkscan.mysqldb.connect import direct
from bulkscan.mysqldb.resilient import ResilientConnection
from bulkscan.mysqldb.scanner import ScanOptions, scan_chunk
from bulkscan.mysqldb.source import resolve_table
from tests.conftest import MYSQL_HOST, MYSQL_PORT

pytestmark = pytest.mark.integration

DB = "bs_binary_rows"
URI = f"mysql://root@{MYSQL_HOST}:{MYSQL_PORT}/{DB}"
ROWS = 120_000  # more rows than one receive buffer holds (bulkscan.mysqldb.binary_ranges.BLOCK_ROWS)
COLUMNS = ("id", "t", "tu", "s", "m", "i", "iu", "b", "bu", "f", "d", "y")


@pytest.fixture(scope="module")
def numbers(mysql_root: Any) -> Any:
    """Every fixed-width numeric type at its extremes and in between, NOT NULL; a nullable copy with a
    NULL in the middle; a string column."""
    conn = mysql_root()
    cur = conn.cursor()
    cur.execute(f"DROP DATABASE IF EXISTS {DB}")
    cur.execute(f"CREATE DATABASE {DB}")
    cur.execute(f"USE {DB}")
    cur.execute(
        "CREATE TABLE nums (id BIGINT NOT NULL PRIMARY KEY, t TINYINT NOT NULL, tu TINYINT UNSIGNED NOT NULL, "
        "s SMALLINT NOT NULL, m MEDIUMINT NOT NULL, i INT NOT NULL, iu INT UNSIGNED NOT NULL, b BIGINT NOT NULL, "
        "bu BIGINT UNSIGNED NOT NULL, f FLOAT NOT NULL, d DOUBLE NOT NULL, y YEAR NOT NULL, "
        "g INT NULL, note VARCHAR(8) NOT NULL)"
    )
    cur.execute(
        "INSERT INTO nums SELECT seq * 3, IF(seq % 2, -128, 127), seq % 256, IF(seq % 3, -32768, seq % 32768), "
        "IF(seq % 5, -8388608, 8388607), IF(seq % 7, -2147483648, seq), IF(seq % 2, 4294967295, seq), "
        "IF(seq % 11, -9223372036854775808, seq * 1000003), IF(seq % 13, 18446744073709551615, seq), "
        "(seq % 64) / 4, seq / 7, 1901 + seq % 255, seq % 10, CONCAT('n', seq % 5) "
        f"FROM seq_1_to_{ROWS}"
    )
    conn.commit()
    yield direct(MYSQL_HOST, MYSQL_PORT, database=DB)
    cur.execute(f"DROP DATABASE IF EXISTS {DB}")
    conn.close()


def mysqlclient_rows(mysql_root: Any, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    cur = mysql_root(DB).cursor()
    cur.execute(sql, params)
    return [tuple(float(v) if isinstance(v, float) else v for v in r) for r in cur.fetchall()]


def test_numeric_columns_read_as_arrays_equal_mysqlclients_rows_and_are_counted_by_the_server(
    numbers: Any, mysql_root: Any
) -> None:
    conn = numbers()
    spec = resolve_table(conn, None, "nums", "id", COLUMNS[1:])
    reader = BinaryRanges(URI, spec, COLUMNS, ResilientConnection(numbers))
    try:
        for lo, hi in [(0, 3 * ROWS + 3), (300, 301), (301, 302), (3 * ROWS + 3, 10**12), (5_000, 200_000)]:
            table, counted = reader.read(lo, hi)
            got = list(zip(*(table.column(c).to_pylist() for c in COLUMNS), strict=True))
            truth = mysqlclient_rows(
                mysql_root, f"SELECT {', '.join(COLUMNS)} FROM nums WHERE id >= %s AND id < %s ORDER BY id", (lo, hi)
            )
            assert got == truth
            assert counted == len(truth) == table.num_rows
    finally:
        reader.close()
    assert reader.conn is None


def test_bound_filter_values_stay_values(numbers: Any, mysql_root: Any) -> None:
    conn = numbers()
    for filters, where, params in [
        ([["note", "=", "n3"]], "note = %s", ("n3",)),
        ([["note", "=", "n3' OR '1'='1"]], "note = %s", ("n3' OR '1'='1",)),
        ([["g", ">=", 7]], "g >= %s", (7,)),
    ]:
        spec = resolve_table(conn, None, "nums", "id", ("i",), filters)
        reader = BinaryRanges(URI, spec, ("id", "i"), ResilientConnection(numbers))
        table, counted = reader.read(0, 10**12)
        reader.close()
        truth = mysqlclient_rows(mysql_root, f"SELECT id, i FROM nums WHERE {where} ORDER BY id", params)
        assert list(zip(table.column("id").to_pylist(), table.column("i").to_pylist(), strict=True)) == truth
        assert counted == len(truth)
        assert (len(truth) == 0) == ("'" in str(params[0]))


def test_a_lost_connection_is_opened_again_and_the_range_read_whole(numbers: Any, mysql_root: Any) -> None:
    conn = numbers()
    spec = resolve_table(conn, None, "nums", "id", ("i",))
    db = ResilientConnection(numbers)
    reader = BinaryRanges(URI, spec, ("id", "i"), db)
    first, _ = reader.read(0, 30_000)
    killed = reader.conn.thread_id()
    admin = mysql_root()
    admin.cursor().execute(f"KILL {int(killed)}")
    admin.close()
    table, counted = reader.read(30_000, 3 * ROWS + 3)
    assert reader.conn.thread_id() != killed
    reader.close()
    ids = first.column("id").to_pylist() + table.column("id").to_pylist()
    assert ids == [r[0] for r in mysqlclient_rows(mysql_root, "SELECT id FROM nums ORDER BY id")]
    assert counted == table.num_rows


def test_a_null_or_a_string_column_is_not_read_as_fixed_width(numbers: Any) -> None:
    conn = numbers()
    nullable = BinaryRanges(
        URI, resolve_table(conn, None, "nums", "id", ("g",)), ("id", "g"), ResilientConnection(numbers)
    )
    assert nullable.read(3, 30)[1] == 9  # g is 1..9 there: no NULL, fixed width
    with pytest.raises(NotFixedWidth, match="a NULL"):
        cur = conn.cursor()
        cur.execute("UPDATE nums SET g = NULL WHERE id = 60")
        conn.commit()
        try:
            nullable.read(3, 300)
        finally:
            cur.execute("UPDATE nums SET g = 0 WHERE id = 60")
            conn.commit()
    assert nullable.conn is None  # closed: it stopped mid-result
    strings = BinaryRanges(
        URI, resolve_table(conn, None, "nums", "id", ("note",)), ("id", "note"), ResilientConnection(numbers)
    )
    with pytest.raises(NotFixedWidth, match="column 'note'"):
        strings.read(0, 100)
    strings.close()


@pytest.mark.parametrize("column", ["i", "g", "note"])
def test_a_chunk_of_arrow_batches_is_exact_whichever_reader_reads_it(
    numbers: Any, mysql_root: Any, column: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Grouped by `column`: numbers through the binary reader; a NULL group (g) and a string (note)
    through ConnectorX from the sub-range where the binary reader gave up, counted by COUNT(*)."""
    from bulkscan.core.batching import AdaptiveBatch

    conn = numbers()
    cur = conn.cursor()
    cur.execute("UPDATE nums SET g = NULL WHERE id BETWEEN 90000 AND 90030")
    conn.commit()
    try:
        spec = resolve_table(conn, None, "nums", "id", (column, "m"))
        p = ArrowAggregate(column, "m")
        caplog.set_level(logging.INFO)
        stats = scan_chunk(
            numbers,
            spec,
            p,
            ChunkContext("t", Chunk(0, 0, 3 * ROWS + 3, ROWS)),
            batch=AdaptiveBatch(size=20_000, minimum=1_000, maximum=20_000),
            options=ScanOptions(count_range=True, arrow_uri=URI),
        )
        truth = {
            (None if g is None else str(g)): (int(s), n)
            for g, s, n in mysqlclient_rows(
                mysql_root, f"SELECT {column}, SUM(m), COUNT(*) FROM nums GROUP BY {column}"
            )
        }
    finally:
        cur.execute("UPDATE nums SET g = (id DIV 3) % 10")
        conn.commit()
    got = {(None if g is None else str(g)): (int(s), n) for g, (s, n) in p.groups.items()}
    assert got == truth
    assert stats.rows == stats.range_rows == ROWS and stats.batches >= 6
    handed_over = [r for r in caplog.records if "read by ConnectorX" in r.getMessage()]
    assert len(handed_over) == (0 if column == "i" else 1)
    if handed_over:
        assert ("a NULL" if column == "g" else "column 'note'") in handed_over[0].getMessage()


def test_a_row_lost_between_the_server_and_the_processor_shows_in_the_count(
    numbers: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The count is the server's (FOUND_ROWS() of the statement), not the reader's: with the first row
    of every received block dropped on the client, the chunk reports fewer rows than its count, which
    summarize's reconcile names."""
    from bulkscan.core import binary_rows

    split = binary_rows.RowLayout.split

    def lossy(self: Any, buf: Any, size: int) -> Any:
        rows = split(self, buf, size)
        return binary_rows.Rows(tuple(c[1:] for c in rows.columns), rows.count, rows.used, rows.end)

    monkeypatch.setattr(binary_rows.RowLayout, "split", lossy)
    conn = numbers()
    spec = resolve_table(conn, None, "nums", "id", ("i",))
    stats = scan_chunk(
        numbers,
        spec,
        ArrowAggregate(None, "i"),
        ChunkContext("t", Chunk(0, 0, 3 * ROWS + 3, ROWS)),
        options=ScanOptions(count_range=True, arrow_uri=URI),
    )
    assert stats.range_rows == ROWS
    assert stats.rows < ROWS


def test_an_arrow_processor_gets_the_key_first_unless_it_says_it_needs_none(numbers: Any) -> None:
    from bulkscan.core.processors import ArrowProcessor

    class Names(ArrowProcessor):
        columns = ("i", "m")

        def __init__(self) -> None:
            self.seen: set[tuple[str, ...]] = set()

        def process_arrow(self, table: Any) -> None:
            self.seen.add(tuple(table.column_names))

    class Keyless(Names):
        with_key = False

    spec = resolve_table(numbers(), None, "nums", "id", ("i", "m"))
    for processor, names in [(Names(), ("id", "i", "m")), (Keyless(), ("i", "m"))]:
        stats = scan_chunk(
            numbers,
            spec,
            processor,
            ChunkContext("t", Chunk(0, 0, 3 * ROWS + 3, ROWS)),
            options=ScanOptions(count_range=True, arrow_uri=URI),
        )
        assert processor.seen == {names} and stats.rows == stats.range_rows == ROWS


def test_a_read_blocked_on_the_server_is_ended_by_the_statement_deadline_on_the_readers_own_connection(
    numbers: Any, mysql_root: Any
) -> None:
    """A sub-range waiting on the server (behind LOCK TABLES ... WRITE here, as behind DDL) waits on the
    binary reader's connection, not the scan's: the scan's statement deadline ends it there (KILL QUERY,
    1317, not retried as a lost connection) while the lock is still held, and once the lock is gone the
    same chunk reads exact."""
    import threading

    import pymysql

    spec = resolve_table(numbers(), None, "nums", "id", ("i",))
    chunk = ChunkContext("t", Chunk(0, 0, 3 * ROWS + 3, ROWS))
    holder, guard, released = mysql_root(DB), threading.Lock(), threading.Event()
    holder.cursor().execute("LOCK TABLES nums WRITE")

    def unlock() -> None:
        with guard:
            if not released.is_set():
                holder.cursor().execute("UNLOCK TABLES")
                released.set()

    safety_net = threading.Timer(60, unlock)  # without the deadline, the read waits for this
    safety_net.start()
    try:
        with pytest.raises(pymysql.err.OperationalError) as ended:
            scan_chunk(
                numbers,
                spec,
                ArrowAggregate(None, "i"),
                chunk,
                options=ScanOptions(count_range=True, arrow_uri=URI, statement_deadline_s=1),
            )
        assert not released.is_set(), "the read ended because the lock went away, not by its deadline"
        assert ended.value.args[0] == 1317  # Query execution was interrupted
    finally:
        safety_net.cancel()
        unlock()
        holder.close()
    stats = scan_chunk(
        numbers, spec, ArrowAggregate(None, "i"), chunk, options=ScanOptions(count_range=True, arrow_uri=URI)
    )
    assert stats.rows == stats.range_rows == ROWS


@pytest.mark.parametrize("value", ["b", "bu"])
def test_bigint_sums_beyond_64_bits_equal_the_servers_decimal_sums(numbers: Any, mysql_root: Any, value: str) -> None:
    """BIGINT and BIGINT UNSIGNED columns at their extremes, read as arrays and summed by the Arrow
    aggregate: each group's sum leaves 64 bits, and equals the server's exact DECIMAL SUM."""
    spec = resolve_table(numbers(), None, "nums", "id", ("t", value))
    p = ArrowAggregate("t", value)
    stats = scan_chunk(
        numbers,
        spec,
        p,
        ChunkContext("t", Chunk(0, 0, 3 * ROWS + 3, ROWS)),
        options=ScanOptions(count_range=True, arrow_uri=URI),
    )
    truth = {
        str(g): (int(s), n)
        for g, s, n in mysqlclient_rows(mysql_root, f"SELECT t, SUM({value}), COUNT(*) FROM nums GROUP BY t")
    }
    assert {str(g): (s, n) for g, (s, n) in p.groups.items()} == truth
    assert max(abs(s) for s, _ in truth.values()) >= 2**64
    assert stats.rows == stats.range_rows == ROWS
