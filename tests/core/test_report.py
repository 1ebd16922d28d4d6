"""Task-log tables, read as a spec: one line per chunk as bulkscan_chunk stores it, numbers aligned
right, rows per second from the stored rows and seconds, a total line; seconds per step, slowest first."""

from __future__ import annotations

import random

from bulkscan.core.report import chunk_table, seconds_table


def cells(line: str) -> list[str]:
    return line.split()


def test_one_line_per_chunk_with_its_label_rate_and_try() -> None:
    rng = random.Random(3)
    chunks = [
        {"chunk_index": i, "label": f"ids {i * 1000 + 1:,}-{(i + 1) * 1000:,}", "rows_scanned": rng.randrange(1, 10**6),
         "seconds": rng.uniform(0.1, 9), "try_number": 1 + (i == 2)}
        for i in range(5)
    ]  # fmt: skip
    lines = chunk_table(chunks).splitlines()
    assert cells(lines[0]) == ["chunk", "label", "rows", "seconds", "rows/s", "try"]
    assert len(lines) == 2 + len(chunks) + 1  # header, rule, chunks, total
    for c, line in zip(chunks, lines[2:-1], strict=True):
        parts = cells(line)
        index, label, (rows, seconds, rate, tries) = parts[0], " ".join(parts[1:-4]), parts[-4:]
        assert int(index) == c["chunk_index"] and label == c["label"]
        assert int(rows.replace(",", "")) == c["rows_scanned"]
        assert abs(float(seconds) - c["seconds"]) <= 0.005
        assert abs(int(rate.replace(",", "")) - c["rows_scanned"] / c["seconds"]) <= 1
        assert int(tries) == c["try_number"]
    total = cells(lines[-1])
    assert total[:3] == ["all", "5", "chunks"]
    assert int(total[3].replace(",", "")) == sum(c["rows_scanned"] for c in chunks)
    widths = {len(line) for line in lines[:2]}
    assert len(widths) == 1  # the rule is as wide as the header


def test_a_chunk_with_no_time_has_no_rate() -> None:
    line = chunk_table([{"chunk_index": 0, "label": "empty", "rows_scanned": 0, "seconds": 0.0, "try_number": 1}])
    assert cells(line.splitlines()[2]) == ["0", "empty", "0", "0.00", "-", "1"]


def test_steps_slowest_first_with_their_share() -> None:
    timings = {"a": 0.5, "b": 2.0, "c": 1.5}
    lines = seconds_table(timings).splitlines()
    assert [cells(x)[0] for x in lines[2:]] == ["b", "c", "a", "all"]
    assert [cells(x)[2] for x in lines[2:-1]] == ["50%", "38%", "12%"]
    assert cells(lines[-1])[1] == "4.00"
