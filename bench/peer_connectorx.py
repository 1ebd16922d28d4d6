"""The peer's job as a user runs it: a fresh Python process that reads a table with ConnectorX into Arrow
and sums `amount` and counts rows per `user_id` (bench_scan runs it with `python bench/peer_connectorx.py`).

It imports only ConnectorX and pyarrow, so its time from start to answer is the peer's whole job,
interpreter and imports included, as bulkscan's worker processes pay theirs in the same bench.
Prints one JSON line: [users, sum of amount, rows].
"""

from __future__ import annotations

import argparse
import json


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("uri")
    ap.add_argument("table")
    ap.add_argument("--partitions", type=int, default=1)
    a = ap.parse_args()

    import connectorx as cx
    import pyarrow.compute as pc

    kw: dict[str, object] = {"return_type": "arrow"}
    columns = "user_id, amount"
    if a.partitions > 1:
        kw.update(partition_on="id", partition_num=a.partitions)
        columns = "id, user_id, amount"
    tbl = cx.read_sql(a.uri, f"SELECT {columns} FROM {a.table}", **kw)
    agg = tbl.group_by("user_id").aggregate([("amount", "sum"), ("amount", "count")])
    users, total, rows = agg.num_rows, int(pc.sum(agg["amount_sum"]).as_py()), int(pc.sum(agg["amount_count"]).as_py())
    print(json.dumps([users, total, rows]))


if __name__ == "__main__":
    main()
