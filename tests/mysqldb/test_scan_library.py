"""The library path against real MariaDB: planner balance, exact aggregates, every row once, reconnects."""

from __future__ import annotations

import threading
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest

from bulkscan.core.chunks import assert_partition, even_stride
from bulkscan.core.processors import AggregateByKey, ChunkContext, Processor
from bulkscan.errors import BulkscanInputError
from bulkscan.mysqldb.connect import direct
from bulkscan.mysqldb.keyestimate import plan_tuple_key
from bulkscan.mysqldb.planner import count_range, plan_table
from bulkscan.mysqldb.results import ChunkOutcome, ResultStore, group_key
from bulkscan.mysqldb.scanner import scan_chunk
from bulkscan.mysqldb.source import resolve_table
from devtools.demo.data import create_events
from tests.conftest import MYSQL_HOST, MYSQL_PORT

pytestmark = pytest.mark.integration
DB = "bs_scan_lib"


@pytest.fixture(scope="module")
def events(mysql_root: Any) -> dict[str, Any]:
    connect = direct(MYSQL_HOST, MYSQL_PORT, database=None)
    conn = mysql_root()
    conn.cursor().execute(f"DROP DATABASE IF EXISTS {DB}")
    conn.close()
    n = create_events(connect, DB, "events", 300_000, users=5_000)
    create_events(connect, DB, "small", 1, users=3)
    conn = mysql_root(DB)
    conn.cursor().execute("CREATE TABLE empty_t (id INT PRIMARY KEY, v INT)")
    conn.close()
    yield {"rows": n, "connect": direct(MYSQL_HOST, MYSQL_PORT, database=DB)}
    conn = mysql_root()
    conn.cursor().execute(f"DROP DATABASE IF EXISTS {DB}")
    conn.close()


def ground_truth(mysql_root: Any, where: str = "1=1", params: tuple[Any, ...] = ()) -> dict[str, tuple[Any, int]]:
    cur = mysql_root(DB).cursor()
    cur.execute(f"SELECT user_id, SUM(amount), COUNT(*) FROM events WHERE {where} GROUP BY user_id", params)
    return {str(g): (s, n) for g, s, n in cur.fetchall()}


def test_plan_is_gap_aware_and_exact(events: dict[str, Any]) -> None:
    conn = events["connect"]()
    spec = resolve_table(conn, None, "events", "id")
    plan = plan_table(conn, spec, 40_000, 1024)
    assert plan.total_rows == events["rows"] == 300_000
    assert_partition(plan.chunks, plan.first, plan.last)
    counts = [count_range(conn, spec, c.lo, c.hi) for c in plan.chunks]
    assert counts == [c.rows for c in plan.chunks]
    assert sum(counts) == 300_000 and max(counts) == 40_000
    # Striding min..max over the billion-id gap leaves most chunks empty and two overloaded.
    naive = [count_range(conn, spec, c.lo, c.hi) for c in even_stride(plan.first, plan.last, len(plan.chunks))]
    assert sum(naive) == 300_000 and naive.count(0) >= len(naive) - 2


def test_plan_empty_and_one_row_tables(events: dict[str, Any]) -> None:
    conn = events["connect"]()
    assert plan_table(conn, resolve_table(conn, None, "empty_t", "id"), 10, 10).chunks == []
    one = plan_table(conn, resolve_table(conn, None, "small", "id"), 1_000, 10)
    assert len(one.chunks) == 1 and one.chunks[0].rows == 1 and one.total_rows == 1


@pytest.mark.parametrize(
    "table,key,columns,filters,match",
    [
        ("nope", "id", (), (), "unknown table"),
        ("events; DROP TABLE events", "id", (), (), "bad table"),
        ("events", "note", (), (), r"cannot be chunked on \(note\).*unique NOT NULL index"),
        ("events", "amount", (), (), "does not lead an index"),
        ("events", "id", ("missing",), (), "unknown column"),
        ("events", "id", (), (["created_at; --", "=", 1],), "bad filter column"),
        ("events", "id", (), (["nope", "=", 1],), "unknown column"),
    ],
)
def test_bad_input_is_rejected_before_scanning(
    events: dict[str, Any], table: str, key: str, columns: tuple[str, ...], filters: tuple[Any, ...], match: str
) -> None:
    with pytest.raises(BulkscanInputError, match=match):
        resolve_table(events["connect"](), None, table, key, columns, filters)


@pytest.mark.parametrize("pushdown", [True, False])
def test_aggregate_with_filter_equals_sql_ground_truth(events: dict[str, Any], mysql_root: Any, pushdown: bool) -> None:
    connect = events["connect"]
    window = ["2026-01-05", "2026-01-20"]
    filters = [["created_at", ">=", window[0]], ["created_at", "<", window[1]]]
    conn = connect()
    proc_cols = ("user_id", "amount")
    spec = resolve_table(conn, None, "events", "id", proc_cols, filters)
    plan = plan_table(conn, spec, 25_000, 1024)
    merged: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for chunk in plan.chunks:
        p = AggregateByKey("user_id", "amount", pushdown=pushdown)
        from bulkscan.core.batching import AdaptiveBatch

        stats = scan_chunk(connect, spec, p, ChunkContext("t", chunk), batch=AdaptiveBatch(size=3_000, minimum=500))
        assert stats.rows == chunk.rows
        for g, (s, n) in p.groups.items():
            merged[group_key(g)] += s
            counts[group_key(g)] += n
    truth = ground_truth(mysql_root, "created_at >= %s AND created_at < %s", tuple(window))
    assert {g: (merged[g], counts[g]) for g in merged} == truth
    assert sum(n for _, n in truth.values()) == plan.total_rows


class SeenIds(Processor):
    columns = ("amount",)

    def __init__(self) -> None:
        self.seen: list[int] = []
        self.batches = 0

    def process(self, rows: Any, columns: tuple[str, ...]) -> None:
        assert columns == ("id", "amount")
        self.batches += 1
        self.seen.extend(r[0] for r in rows)


def test_user_processor_sees_every_row_exactly_once(events: dict[str, Any], mysql_root: Any) -> None:
    connect = events["connect"]
    conn = connect()
    spec = resolve_table(conn, None, "events", "id", ("amount",))
    plan = plan_table(conn, spec, 60_000, 1024)
    seen: list[int] = []
    for chunk in plan.chunks:
        p = SeenIds()
        from bulkscan.core.batching import AdaptiveBatch

        scan_chunk(connect, spec, p, ChunkContext("t", chunk), batch=AdaptiveBatch(size=7_000, minimum=1_000))
        assert p.batches > 1
        seen.extend(p.seen)
    cur = mysql_root(DB).cursor()
    cur.execute("SELECT id FROM events ORDER BY id")
    assert seen == [r[0] for r in cur.fetchall()]


class KillOnce(SeenIds):
    """Kills its own scan connection from the server side after the 2nd batch: 'server has gone away'."""

    def __init__(self, mysql_root: Any) -> None:
        super().__init__()
        self.mysql_root = mysql_root
        self.killed = False

    def process(self, rows: Any, columns: tuple[str, ...]) -> None:
        super().process(rows, columns)
        if self.batches == 2 and not self.killed:
            self.killed = True
            admin = self.mysql_root()
            cur = admin.cursor()
            cur.execute(
                "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s AND ID <> CONNECTION_ID() "
                "AND USER = 'root' AND COMMAND = 'Sleep'",
                (DB,),
            )
            for (pid,) in cur.fetchall():
                cur.execute(f"KILL {int(pid)}")
            admin.close()


def test_lost_connection_resumes_from_last_key(events: dict[str, Any], mysql_root: Any) -> None:
    connect = events["connect"]
    conn = connect()
    spec = resolve_table(conn, None, "events", "id", ("amount",))
    conn.close()
    plan = plan_table(connect(), spec, 100_000, 1024)
    chunk = plan.chunks[1]
    p = KillOnce(mysql_root)
    from bulkscan.core.batching import AdaptiveBatch

    stats = scan_chunk(
        connect, spec, p, ChunkContext("t", chunk), batch=AdaptiveBatch(size=5_000, minimum=5_000, maximum=5_000)
    )
    assert p.killed and stats.reconnects >= 1
    assert stats.rows == chunk.rows == len(p.seen) == len(set(p.seen))
    cur = mysql_root(DB).cursor()
    cur.execute("SELECT id FROM events WHERE id >= %s AND id < %s ORDER BY id", (chunk.lo, chunk.hi))
    assert p.seen == [r[0] for r in cur.fetchall()]


def test_result_store_replaces_a_retried_chunk(events: dict[str, Any], mysql_root: Any) -> None:
    store = ResultStore(direct(MYSQL_HOST, MYSQL_PORT), schema="bs_scan_lib_results")
    store.ensure()
    try:
        conn = events["connect"]()
        spec = resolve_table(conn, None, "events", "id", ("user_id", "amount"))
        plan = plan_table(conn, spec, 150_000, 1024)
        for attempt in (1, 2):  # the second attempt must replace, not add to, the first
            for chunk in plan.chunks:
                p = AggregateByKey("user_id", "amount")
                stats = scan_chunk(events["connect"], spec, p, ChunkContext("run1", chunk, attempt))
                outcome = ChunkOutcome("t", "s", stats.rows, stats.seconds, attempt, groups=p.groups)
                store.replace_chunk("run1", chunk, outcome)
        merged = store.merge("run1", job="t", source="s", chunks=len(plan.chunks), rows=plan.total_rows)
        truth = ground_truth(mysql_root)
        got = store.result("run1")
        assert {g: (s, n) for g, (s, n) in got.items()} == truth
        assert merged.groups == len(truth)
        assert [c["writes"] for c in store.chunks("run1")] == [2] * len(plan.chunks)
    finally:
        mysql_root().cursor().execute("DROP DATABASE IF EXISTS bs_scan_lib_results")


def test_host_slots_cap_concurrent_holders() -> None:
    from bulkscan.mysqldb.slots import host_slot, lock_name

    connect = direct(MYSQL_HOST, MYSQL_PORT)
    inside, peak, done, changes, checked, lock = 0, 0, 0, 0, 0, threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        nonlocal inside, peak, done, changes, checked
        try:
            with host_slot(connect, "test-cap", 2, timeout_s=30, poll_s=0.02):
                with lock:
                    inside += 1
                    changes += 1
                    peak = max(peak, inside)
                    holders, seen = inside, changes
                # observed on the server: the slot locks in use right now; with two holders that stayed
                # the same throughout the query (no one entered or left), both slots are taken
                cur = connect().cursor()
                cur.execute(
                    "SELECT IS_USED_LOCK(%s), IS_USED_LOCK(%s)", (lock_name("test-cap", 0), lock_name("test-cap", 1))
                )
                used = cur.fetchone()
                with lock:
                    if holders == 2 and changes == seen:
                        assert None not in used, used
                        checked += 1
                threading.Event().wait(0.2)
                with lock:
                    inside -= 1
                    changes += 1
                    done += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert done == 6 and peak == 2
    assert checked >= 1  # the server-side check ran at least once with both slots held


def test_concurrent_chunk_writes_do_not_deadlock(mysql_root: Any) -> None:
    """Eight chunks of one run replacing their partial sums at the same time, three rounds (retries)."""
    from bulkscan.core.chunks import Chunk

    store = ResultStore(direct(MYSQL_HOST, MYSQL_PORT), schema="bs_scan_lib_concurrent")
    store.ensure()
    errors: list[BaseException] = []

    def write(index: int, round_: int) -> None:
        try:
            groups = {f"g{k}": [Decimal(index * 1000 + k), 1] for k in range(2_000)}
            outcome = ChunkOutcome("t", "s", rows=2_000, seconds=0.0, try_number=round_, groups=groups)
            store.replace_chunk("run-c", Chunk(index, index * 10, index * 10 + 10, 2_000), outcome)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    try:
        for round_ in (1, 2, 3):
            threads = [threading.Thread(target=write, args=(i, round_)) for i in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
        assert not errors, errors
        merged = store.merge("run-c", job="t", source="s", chunks=8, rows=16_000)
        expected = sum(i * 1000 + k for i in range(8) for k in range(2_000))
        assert merged.groups == 2_000 and merged.value_sum == expected
        assert [c["writes"] for c in store.chunks("run-c")] == [3] * 8
    finally:
        mysql_root().cursor().execute("DROP DATABASE IF EXISTS bs_scan_lib_concurrent")


def test_estimated_plan_tiles_the_table_and_balances_it(events: dict[str, Any]) -> None:
    """Planning from range estimates on real InnoDB (the billion-id gap included): every row in exactly
    one chunk, chunks within 25% of one another, at most 4 x 10% of a chunk counted for calibration,
    and the reported rows near the real counts."""
    conn = events["connect"]()
    spec = resolve_table(conn, None, "events", "id")
    plan = plan_table(conn, spec, 30_000, 1024, "estimate")
    assert plan.planning == "estimate" and plan.estimates > 0
    assert_partition(plan.chunks, plan.first, plan.last)
    counts = [count_range(conn, spec, c.lo, c.hi) for c in plan.chunks]
    assert sum(counts) == events["rows"]
    assert 8 <= len(counts) <= 12
    assert max(counts) / (sum(counts) / len(counts)) <= 1.25
    for chunk, real in zip(plan.chunks, counts, strict=True):
        assert abs((chunk.rows or 0) - real) <= 0.25 * real
    filtered = resolve_table(conn, None, "events", "id", (), [["created_at", ">=", "2026-01-05"]])
    assert plan_table(conn, filtered, 30_000, 1024, "estimate").planning == "walk"  # a filter walks


@pytest.mark.parametrize(
    "filters",
    [[], [["note", "=", "n5"]], [["note", "=", "n5' OR '1'='1"]], [["created_at", ">=", "2026-01-05"]]],
    ids=["all", "note", "quote-in-value", "window"],
)
def test_arrow_batches_equal_sql_ground_truth(events: dict[str, Any], mysql_root: Any, filters: list[Any]) -> None:
    """Arrow batches (ConnectorX per key sub-range): the same per-user sums as SQL, every sub-range
    counted, and a filter value with a quote in it stays a value (the driver's literal() quoting)."""
    from bulkscan.core.batching import AdaptiveBatch
    from bulkscan.core.processors import ArrowAggregate
    from bulkscan.mysqldb.scanner import ScanOptions

    connect = events["connect"]
    conn = connect()
    spec = resolve_table(conn, None, "events", "id", ("user_id", "amount"), filters)
    plan = plan_table(conn, spec, 60_000, 1024, "estimate")
    uri = f"mysql://root@{MYSQL_HOST}:{MYSQL_PORT}/{DB}"
    merged: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for chunk in plan.chunks:
        p = ArrowAggregate("user_id", "amount")
        stats = scan_chunk(
            connect,
            spec,
            p,
            ChunkContext("t", chunk),
            batch=AdaptiveBatch(size=4_000, minimum=1_000, maximum=8_000),
            options=ScanOptions(count_range=True, arrow_uri=uri),
        )
        assert stats.batches >= 2 or stats.rows < 8_000
        assert stats.rows == stats.range_rows
        for g, (s, n) in p.groups.items():
            merged[group_key(g)] += s
            counts[group_key(g)] += n
    where = " AND ".join(f"{c} {op} %s" for c, op, _ in filters) or "1=1"
    truth = ground_truth(mysql_root, where, tuple(v for _, _, v in filters))
    assert {g: (merged[g], counts[g]) for g in merged} == truth
    if filters and "'" in filters[0][2]:
        assert truth == {} and not merged


def test_every_batch_is_counted_in_its_own_snapshot_even_across_a_reconnect(
    events: dict[str, Any], mysql_root: Any
) -> None:
    """With counting on, each keyset batch is read together with a COUNT(*) of its key range in one
    short snapshot; the chunk's count is their sum and equals an independent COUNT(*) of the range,
    also when the connection was killed between batches (the batch is read again on a new one). No
    transaction stays open between batches, so nothing holds a metadata lock on the table."""
    from bulkscan.core.batching import AdaptiveBatch
    from bulkscan.mysqldb.scanner import ScanOptions

    connect = events["connect"]
    spec = resolve_table(connect(), None, "events", "id", ("amount",))
    chunk = plan_table(connect(), spec, 100_000, 1024).chunks[1]
    real = count_range(connect(), spec, chunk.lo, chunk.hi)
    batch = AdaptiveBatch(size=5_000, minimum=5_000, maximum=5_000)
    quiet = scan_chunk(
        connect, spec, SeenIds(), ChunkContext("t", chunk), batch=batch, options=ScanOptions(count_range=True)
    )
    assert quiet.range_rows == quiet.rows == real
    p = KillOnce(mysql_root)
    batch = AdaptiveBatch(size=5_000, minimum=5_000, maximum=5_000)
    stats = scan_chunk(connect, spec, p, ChunkContext("t", chunk), batch=batch, options=ScanOptions(count_range=True))
    assert p.killed and stats.reconnects >= 1
    assert stats.rows == stats.range_rows == real
    cur = mysql_root(DB).cursor()
    cur.execute("SELECT COUNT(*) FROM information_schema.INNODB_TRX")
    assert cur.fetchone()[0] == 0, "no snapshot is left open"


def test_a_pushed_down_aggregate_counts_its_ranges_in_the_same_pass(
    events: dict[str, Any], mysql_root: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The built-in aggregate's sub-ranges end WITH ROLLUP: the server's own count of the rows it grouped,
    with no second statement over the range. The count equals an independent COUNT(*) of the chunk's
    range; a group row lost between the server and the scan shows as fewer rows than the range holds;
    a table whose group column holds NULLs keeps its NULL group (the total row is not taken for it)."""
    from bulkscan.core.batching import AdaptiveBatch
    from bulkscan.mysqldb.resilient import ResilientConnection
    from bulkscan.mysqldb.scanner import ScanOptions

    connect = events["connect"]
    spec = resolve_table(connect(), None, "events", "id", ("user_id", "amount"))
    chunk = plan_table(connect(), spec, 100_000, 1024).chunks[1]
    real = count_range(connect(), spec, chunk.lo, chunk.hi)

    def run(proc: AggregateByKey) -> Any:
        batch = AdaptiveBatch(size=20_000, minimum=20_000, maximum=20_000)  # several sub-ranges
        return scan_chunk(
            connect, spec, proc, ChunkContext("t", chunk), batch=batch, options=ScanOptions(count_range=True)
        )

    whole = AggregateByKey("user_id", "amount")
    stats = run(whole)
    assert stats.batches > 3 and stats.rows == stats.range_rows == real
    truth = ground_truth(mysql_root, "id >= %s AND id < %s", (chunk.lo, chunk.hi))
    assert {str(g): (s, n) for g, (s, n) in whole.groups.items()} == truth
    query = ResilientConnection.query

    def first_group_lost(self: ResilientConnection, sql: str, params: Any) -> Any:
        rows = query(self, sql, params)
        return rows[1:] if "WITH ROLLUP" in sql and len(rows) > 1 else rows

    with monkeypatch.context() as patch:
        patch.setattr(ResilientConnection, "query", first_group_lost)
        lossy = run(AggregateByKey("user_id", "amount"))
    assert lossy.range_rows == real and lossy.rows < real

    cur = mysql_root(DB).cursor()
    cur.execute("CREATE TABLE nullable_g (id INT PRIMARY KEY, g INT NULL, v INT NOT NULL)")
    cur.execute("INSERT INTO nullable_g SELECT id, IF(id % 3 = 0, NULL, id % 7), amount FROM events WHERE id <= 30000")
    try:
        nspec = resolve_table(connect(), None, "nullable_g", "id", ("g", "v"))
        nchunk = plan_table(connect(), nspec, 100_000, 1024).chunks[0]
        proc = AggregateByKey("g", "v")
        batch = AdaptiveBatch(size=5_000, minimum=5_000, maximum=5_000)
        nstats = scan_chunk(
            connect, nspec, proc, ChunkContext("t", nchunk), batch=batch, options=ScanOptions(count_range=True)
        )
        cur.execute("SELECT g, SUM(v), COUNT(*) FROM nullable_g GROUP BY g")
        assert {g: (s, n) for g, (s, n) in proc.groups.items()} == {g: (s, n) for g, s, n in cur.fetchall()}
        cur.execute("SELECT COUNT(*) FROM nullable_g")
        assert None in proc.groups and nstats.rows == nstats.range_rows == cur.fetchone()[0]
    finally:
        cur.execute("DROP TABLE nullable_g")


def test_an_int_column_is_summed_in_a_double_only_where_every_sum_stays_exact(
    events: dict[str, Any], mysql_root: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An INT UNSIGNED column's sums are exact in a DOUBLE over at most 2^21 rows. One group of
    2^21 + 5,004 rows near 2^32 is the trap: the server's own DOUBLE sum of the whole of it is wrong.
    Sub-ranges of 500,000 keys are summed in DOUBLEs and come out exact (each sub-range's sum is made an
    int before the next is added); one sub-range over the whole table is summed by the exact DECIMAL
    SUM; a BIGINT column never goes through a DOUBLE; a (g, id) key sums walked sub-ranges in DOUBLEs.
    The truth is computed in Python and by SQL."""
    from bulkscan.core.batching import AdaptiveBatch
    from bulkscan.mysqldb.resilient import ResilientConnection
    from bulkscan.mysqldb.scanner import ScanOptions

    n = 2**21 + 5_004
    top = 2**32 - 1
    truth_v = n * top - n // 4  # v = top - (id % 4 = 0); odd, so no double above 2^53 can equal it
    assert truth_v % 2 == 1
    truth_b = n * 2**62 + n * (n + 1) // 2
    cur = mysql_root(DB).cursor()
    cur.execute(
        "CREATE TABLE wide_sums (id BIGINT PRIMARY KEY, g TINYINT NOT NULL, v INT UNSIGNED NOT NULL, b BIGINT,"
        " UNIQUE KEY gid (g, id))"
    )
    cur.execute(f"INSERT INTO wide_sums SELECT seq, 0, {top} - (seq % 4 = 0), {2**62} + seq FROM seq_1_to_{n}")
    try:
        cur.execute("SELECT SUM(v), SUM(v + 0E0), SUM(b) FROM wide_sums")
        exact, in_double, exact_b = cur.fetchone()
        assert exact == truth_v and exact_b == truth_b and int(in_double) != truth_v  # the trap is real
        connect = events["connect"]
        query, seen = ResilientConnection.query, []

        def recording(self: ResilientConnection, sql: str, params: Any) -> Any:
            seen.append(sql)
            return query(self, sql, params)

        def scan(value: str, keys_per_range: int, key: str = "id") -> tuple[AggregateByKey, list[str]]:
            spec = resolve_table(connect(), None, "wide_sums", key, ("g", value))
            planned = plan_tuple_key(connect(), spec, 2 * n, 1024, "walk") if spec.tuple_key else None
            (chunk,) = planned.chunks if planned else plan_table(connect(), spec, 2 * n, 1024).chunks
            proc = AggregateByKey("g", value)
            batch = AdaptiveBatch(size=keys_per_range, minimum=keys_per_range, maximum=keys_per_range)
            seen.clear()
            with monkeypatch.context() as patch:
                patch.setattr(ResilientConnection, "query", recording)
                stats = scan_chunk(
                    connect, spec, proc, ChunkContext("t", chunk), batch=batch, options=ScanOptions(count_range=True)
                )
            assert stats.rows == stats.range_rows == n
            return proc, [q for q in seen if "SUM(" in q]

        split, sums = scan("v", 500_000)
        assert split.groups == {0: [truth_v, n]} and len(sums) >= 4 and all("+ 0E0" in q for q in sums)
        whole, sums = scan("v", 2 * n)
        assert whole.groups == {0: [truth_v, n]} and sums and not any("0E0" in q for q in sums)
        big, sums = scan("b", 500_000)
        assert big.groups == {0: [truth_b, n]} and sums and not any("0E0" in q for q in sums)
        # A (g, id) key: each sub-range found by walking 500,000 keys holds at most that many rows, so
        # it is summed in DOUBLEs; a chunk scanned in one piece (estimated to fit) is not bounded so.
        walked, sums = scan("v", 500_000, "g, id")
        assert walked.groups == {0: [truth_v, n]} and len(sums) >= 4 and all("+ 0E0" in q for q in sums)
        one, sums = scan("v", 2 * n, "g, id")
        assert one.groups == {0: [truth_v, n]} and sums and not any("0E0" in q for q in sums)
    finally:
        cur.execute("DROP TABLE wide_sums")


def test_a_plan_that_needs_too_many_estimates_walks(events: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The safety net for statistics far off the table: past MAX_ESTIMATES (here lowered to 5) the
    planner walks the index instead, with exact counts, and the table is still tiled."""
    import bulkscan.core.estimated_plan as estimated_plan

    monkeypatch.setattr(estimated_plan, "MAX_ESTIMATES", 5)
    conn = events["connect"]()
    spec = resolve_table(conn, None, "events", "id")
    plan = plan_table(conn, spec, 30_000, 1024, "estimate")
    assert plan.planning == "walk"
    assert_partition(plan.chunks, plan.first, plan.last)
    assert [c.rows for c in plan.chunks] == [count_range(conn, spec, c.lo, c.hi) for c in plan.chunks]
    assert sum(c.rows or 0 for c in plan.chunks) == events["rows"]


@pytest.mark.parametrize("mode", ["rows", "pushdown", "arrow"])
def test_a_chunk_stops_after_its_limit_and_its_rest_scanned_apart_completes_it(
    events: dict[str, Any], mysql_root: Any, mode: str
) -> None:
    """`stop_after`: a chunk planned far too small (one chunk over the whole table, planned at 10,000
    rows) stops at the end of the batch that reached the limit and reports where (`rest_from`); what it
    read is exactly its rows below that key, counted; the rest of the range walked exactly (plan_range)
    and scanned apart makes the whole table's per-user sums, the SQL ground truth."""
    from bulkscan.core.batching import AdaptiveBatch
    from bulkscan.core.chunks import Chunk, assert_partition, renumbered
    from bulkscan.core.processors import ArrowAggregate
    from bulkscan.mysqldb.planner import plan_range
    from bulkscan.mysqldb.scanner import ScanOptions

    connect = events["connect"]
    conn = connect()
    spec = resolve_table(conn, None, "events", "id", ("user_id", "amount"))
    first, last = plan_table(conn, spec, 10**9, 1).chunks[0].lo, plan_table(conn, spec, 10**9, 1).chunks[0].hi
    whole = Chunk(0, first, last, rows=10_000)  # the whole table, planned far too small
    uri = f"mysql://root@{MYSQL_HOST}:{MYSQL_PORT}/{DB}"

    def processor() -> Processor:
        return (
            ArrowAggregate("user_id", "amount")
            if mode == "arrow"
            else AggregateByKey("user_id", "amount", mode == "pushdown")
        )

    merged: Counter[str] = Counter()
    counts: Counter[str] = Counter()

    def scan(chunk: Chunk, stop_after: int | None) -> Any:
        p = processor()
        options = ScanOptions(count_range=True, arrow_uri=uri, stop_after=stop_after)
        batch = AdaptiveBatch(size=4_000, minimum=1_000, maximum=8_000)
        stats = scan_chunk(connect, spec, p, ChunkContext("t", chunk), batch=batch, options=options)
        for g, (s, n) in p.groups.items():
            merged[group_key(g)] += s
            counts[group_key(g)] += n
        return stats

    stats = scan(whole, 20_000)
    assert stats.rest_from is not None and first < stats.rest_from < last
    # rows: it stops within one batch of the limit; a key sub-range (pushdown, arrow) is sized from the
    # planned density, so the sub-range that passes the limit may hold more (here it spans the id gap)
    assert stats.rows >= 20_000 and (stats.rows < 20_000 + 8_000 or mode != "rows")
    assert stats.rows == stats.range_rows == count_range(conn, spec, first, stats.rest_from)
    rest = renumbered(plan_range(conn, spec, stats.rest_from, last, 60_000, 64), 1)
    assert_partition([Chunk(0, first, stats.rest_from), *rest], first, last - 1)
    assert [c.rows for c in rest[:-1]] == [60_000] * (len(rest) - 1) and 0 < (rest[-1].rows or 0) <= 60_000
    for piece in rest:
        done = scan(piece, None)
        assert done.rest_from is None and done.rows == piece.rows
    assert {g: (merged[g], counts[g]) for g in merged} == ground_truth(mysql_root)


def test_a_resumed_try_of_a_stopped_chunk_reports_the_same_rest(events: dict[str, Any], mysql_root: Any) -> None:
    """A try that died after the chunk had stopped (its final checkpoint committed) reads nothing more
    and reports the same `rest_from`, so the rest is split the same way whichever try reports it."""
    from bulkscan.core.batching import AdaptiveBatch
    from bulkscan.core.chunks import Chunk
    from bulkscan.mysqldb.checkpoint import ChunkCheckpoint
    from bulkscan.mysqldb.scanner import ScanOptions

    connect = events["connect"]
    conn = connect()
    spec = resolve_table(conn, None, "events", "id", ("user_id", "amount"))
    store = ResultStore(direct(MYSQL_HOST, MYSQL_PORT, database=None), f"{DB}_stop_results")
    store.ensure()
    chunk = Chunk(0, 1, 200_000, rows=10_000)
    tries = []
    for try_number in (1, 2):
        checkpoint = ChunkCheckpoint(store, "t/stop", chunk, try_number)
        options = ScanOptions(count_range=True, stop_after=20_000, checkpoint=checkpoint)
        p = AggregateByKey("user_id", "amount", pushdown=False)
        batch = AdaptiveBatch(size=4_000, minimum=1_000, maximum=8_000)
        tries.append(
            scan_chunk(connect, spec, p, ChunkContext("t/stop", chunk, try_number), batch=batch, options=options)
        )
    assert tries[0].rest_from is not None and tries[1].rest_from == tries[0].rest_from
    assert tries[1].rows == tries[0].rows == tries[1].range_rows and tries[1].batches == tries[0].batches
    mysql_root().cursor().execute(f"DROP DATABASE IF EXISTS {DB}_stop_results")


def test_a_statement_blocked_on_the_server_is_ended_at_the_deadline(events: dict[str, Any], mysql_root: Any) -> None:
    """A chunk whose query waits on the server (here behind another session's LOCK TABLES ... WRITE, as
    behind DDL) is ended by KILL QUERY at its statement deadline: a signal could not interrupt the call.
    The scan fails while the lock is still held, with the server's own "interrupted" error, so the task
    fails and is retried; a scan without a deadline would wait for the lock."""
    import MySQLdb

    from bulkscan.mysqldb.scanner import ScanOptions

    holder = mysql_root(DB)
    holder.cursor().execute("LOCK TABLES events WRITE")
    try:
        spec = resolve_table(events["connect"](), None, "events", "id")
        ctx = ChunkContext("deadline-test", even_stride(1, 300_000, 1)[0])
        with pytest.raises(MySQLdb.OperationalError) as failed:
            scan_chunk(
                events["connect"], spec, AggregateByKey("user_id", "amount"), ctx,
                options=ScanOptions(statement_deadline_s=1.0),
            )  # fmt: skip
        assert failed.value.args[0] == 1317  # ER_QUERY_INTERRUPTED: ended on the server, not by the client
        cur = holder.cursor()
        cur.execute("SELECT COUNT(*) FROM events")  # the lock was still held when the scan came back
        assert cur.fetchone()[0] == events["rows"]
    finally:
        holder.cursor().execute("UNLOCK TABLES")
        holder.close()
    # with the lock gone the same chunk scans whole
    proc = AggregateByKey("user_id", "amount")
    stats = scan_chunk(events["connect"], spec, proc, ctx, options=ScanOptions(statement_deadline_s=30.0))
    assert stats.rows == count_range(events["connect"](), spec, ctx.chunk.lo, ctx.chunk.hi) > 0


class _Clock:
    """The scan state's clock, advanced one second by every batch the processor is handed."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now


class _DiesAtBatch(AggregateByKey):
    def __init__(self, clock: _Clock, die_at: int | None) -> None:
        super().__init__("user_id", "amount", pushdown=False)
        self.clock, self.die_at, self.seen = clock, die_at, 0

    def process(self, rows: Any, columns: tuple[str, ...]) -> None:
        self.clock.now += 1.0
        self.seen += 1
        if self.seen == self.die_at:
            raise RuntimeError("worker killed mid-batch")
        super().process(rows, columns)


def test_an_aggregate_checkpoints_every_few_seconds_and_a_try_killed_between_resumes_exactly(
    events: dict[str, Any], mysql_root: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An aggregate's batches are checkpointed once `checkpoint_every_s` has passed (here: every third
    batch, one second a batch), not after each one, and at the chunk's end. A try killed at batch 8
    leaves the checkpoint of batch 6; the next try resumes there and the chunk's stored partial sums
    equal SQL's sums, every row counted once."""
    from bulkscan.core.batching import AdaptiveBatch
    from bulkscan.core.chunks import Chunk
    from bulkscan.mysqldb import scanstate
    from bulkscan.mysqldb.checkpoint import ChunkCheckpoint
    from bulkscan.mysqldb.scanner import ScanOptions

    clock = _Clock()
    monkeypatch.setattr(scanstate, "time", clock)
    connect = events["connect"]
    spec = resolve_table(connect(), None, "events", "id", ("user_id", "amount"))
    schema = f"{DB}_interval_results"
    mysql_root().cursor().execute(f"DROP DATABASE IF EXISTS {schema}")
    store = ResultStore(direct(MYSQL_HOST, MYSQL_PORT, database=None), schema)
    store.ensure()
    cur = mysql_root(DB).cursor()
    cur.execute("SELECT MIN(id), MAX(id) + 1 FROM events")
    chunk = Chunk(0, *cur.fetchone())  # the whole table, its huge id gap included
    sizes = AdaptiveBatch(size=10_000, minimum=10_000, maximum=10_000)

    def attempt(try_number: int, die_at: int | None) -> Any:
        options = ScanOptions(count_range=True, checkpoint=ChunkCheckpoint(store, "t/every", chunk, try_number),
                              checkpoint_every_s=2.5)  # fmt: skip
        ctx = ChunkContext("t/every", chunk, try_number)
        return scan_chunk(connect, spec, _DiesAtBatch(clock, die_at), ctx, batch=sizes, options=options)

    def stored(sql: str) -> list[tuple[Any, ...]]:
        cur = mysql_root(schema).cursor()
        cur.execute(sql, ("t/every",))
        return list(cur.fetchall())

    with pytest.raises(RuntimeError, match="killed"):
        attempt(1, die_at=8)
    [(rows_done, batches, done)] = stored("SELECT rows_done, batches, done FROM bulkscan_checkpoint WHERE run_key = %s")
    assert (rows_done, batches, done) == (60_000, 6, 0)  # batches 7 and 8 were lost with the try
    stats = attempt(2, die_at=None)
    assert stats.rows == stats.range_rows == events["rows"]
    [(batches, done)] = stored("SELECT batches, done FROM bulkscan_checkpoint WHERE run_key = %s")
    assert (batches, done) == (stats.batches, 0)
    sums = {
        g: (s, n)
        for g, s, n in stored("SELECT group_key, value_sum, row_count FROM bulkscan_partial WHERE run_key = %s")
    }
    assert sums == {g: (Decimal(s), n) for g, (s, n) in ground_truth(mysql_root).items()}
    mysql_root().cursor().execute(f"DROP DATABASE IF EXISTS {schema}")
