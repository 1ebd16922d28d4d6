"""Ground truth for a chunk that was cut off mid-batch and resumed (the row-by-row `seen` record of
tests.processors.RecordingMessages against the source table and bulkscan's outbox)."""

from __future__ import annotations

from typing import Any

SEEN = (
    "CREATE TABLE seen (run_key VARCHAR(250), chunk_index INT, row_key BIGINT, try_number INT, replay TINYINT,"
    " batch INT, KEY (run_key, chunk_index, try_number))"
)


def seen_by(cur: Any, run_key: str, chunk: int) -> dict[int, list[tuple[int, int, int]]]:
    """try -> [(row key, replay, batch)] in the order the processor was handed them."""
    cur.execute(
        "SELECT try_number, row_key, replay, batch FROM seen WHERE run_key = %s AND chunk_index = %s",
        (run_key, chunk),
    )
    out: dict[int, list[tuple[int, int, int]]] = {}
    for t, k, r, b in cur.fetchall():
        out.setdefault(t, []).append((k, r, b))
    return out


def check_resumed_exactly_once(cur: Any, results: str, run_key: str, failed: tuple[int, int], total: int) -> None:
    """The invariants of a chunk whose first try died after its `fail_batch`-th batch was processed
    (`failed` = (chunk, fail_batch)), on a cursor of the source database (events, seen)."""
    fail_chunk, fail_batch = failed
    tries = seen_by(cur, run_key, fail_chunk)
    assert sorted(tries) == [1, 2]
    first, second = tries[1], tries[2]
    committed = [k for k, _, b in first if b < fail_batch]
    in_flight = [k for k, _, b in first if b == fail_batch]
    assert committed and in_flight
    # the retry began right after the last checkpoint, with exactly the batch that was in flight, flagged
    replayed = [k for k, r, _ in second if r]
    assert replayed == in_flight
    assert second[0][0] == in_flight[0] and not set(committed) & {k for k, _, _ in second}
    # between them the two tries saw every row of the chunk: none skipped
    cur.execute(
        f"SELECT lo, hi FROM {results}.bulkscan_chunk WHERE run_key = %s AND chunk_index = %s",
        (run_key, fail_chunk),
    )
    lo, hi = cur.fetchone()
    cur.execute("SELECT id FROM events WHERE id >= %s AND id < %s ORDER BY id", (lo, hi))
    assert committed + [k for k, _, _ in second] == [r[0] for r in cur.fetchall()]
    # and the outbox holds every row's message exactly once, as the source says it should read
    cur.execute(
        "SELECT COUNT(*), COUNT(DISTINCT o.row_key), SUM(o.message = CONCAT('hello ', e.user_id))"
        f" FROM {results}.bulkscan_outbox o JOIN events e ON e.id = o.row_key WHERE o.run_key = %s",
        (run_key,),
    )
    assert tuple(int(x) for x in cur.fetchone()) == (total, total, total)
    cur.execute(f"SELECT COUNT(*) FROM {results}.bulkscan_outbox WHERE run_key = %s", (run_key,))
    assert cur.fetchone()[0] == total
