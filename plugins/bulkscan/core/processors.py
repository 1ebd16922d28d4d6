"""Per-batch processors a chunk scan feeds: the base classes and the built-ins (loaded by name or
dotted path through bulkscan.core.processor_loader).

A processor sees batches, never a whole range, and returns a small summary: rows never travel
through XCom. Results that must survive the task are keyed by run and chunk (see ChunkContext), so
a retried chunk replaces what its earlier attempt wrote.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar, Protocol

from bulkscan.core.chunks import Chunk
from bulkscan.core.dbapi import Cursor
from bulkscan.core.identifiers import validate_identifier
from bulkscan.core.keys import KeyChunk
from bulkscan.core.sqlfiles import UserQuery, user_query
from bulkscan.errors import BulkscanError, BulkscanInputError

GroupSums = dict[Any, list[Any]]  # group value -> [sum, count]


@dataclass(frozen=True)
class ChunkContext:
    """Who is scanning: the run (e.g. 'dag_id/run_id'), the chunk and the attempt."""

    run_key: str
    chunk: Chunk | KeyChunk
    try_number: int = 1
    extra: dict[str, Any] = field(default_factory=dict)


class BatchTx(Protocol):
    """The transaction a checkpointed batch commits in (bulkscan.mysqldb.checkpoint)."""

    cursor: Cursor

    def outbox(self, messages: Iterable[tuple[str, str]]) -> None:
        """(row key, message) pairs into bulkscan_outbox: written once per row key of the chunk."""
        ...


class Processor:
    """Base class. `mode = "rows"`: `process` gets keyset batches of tuples in `columns` order.

    In a checkpointed scan (bulkscan_table_scan) `commit_batch` is called after each `process`, inside
    the transaction that records the batch as done: effects written there (on `tx.cursor`, or
    `tx.outbox`) happen exactly once, even when the worker dies. `replay` is True while `process` gets
    the first batch of a try that resumed from a checkpoint: the try that died may have seen those
    rows (but did not commit them).
    """

    mode: ClassVar[str] = "rows"
    #: Columns to read (the key is always first). None means every column of the table.
    columns: tuple[str, ...] | None = None
    replay: bool = False

    def open(self, ctx: ChunkContext) -> None:
        self.ctx = ctx

    def process(self, rows: Sequence[tuple[Any, ...]], columns: tuple[str, ...]) -> None:
        raise NotImplementedError

    def commit_batch(self, tx: BatchTx) -> None:
        """Write this batch's effects in the checkpoint transaction (nothing by default)."""

    def finish(self) -> dict[str, Any]:
        return {}


class CountRows(Processor):
    """Counts rows; reads only the key column."""

    columns = ()

    def __init__(self) -> None:
        self.rows = 0

    def process(self, rows: Sequence[tuple[Any, ...]], columns: tuple[str, ...]) -> None:
        self.rows += len(rows)

    def finish(self) -> dict[str, Any]:
        return {"rows": self.rows}


class AggregateByKey(Processor):
    """Sum of `value` and row count per `group` value (one total when `group` is None).

    In "aggregate" mode the scanner pushes SUM/COUNT ... GROUP BY down to the server for each keyset
    sub-range, so only one row per group crosses the wire; `pushdown=False` streams the rows and sums
    in Python instead (kept for comparison and for servers where GROUP BY is not wanted).
    """

    mode: ClassVar[str] = "aggregate"

    def __init__(self, group: str | None, value: str, pushdown: bool = True) -> None:
        self.group = validate_identifier(group, "group column") if group else None
        self.value = validate_identifier(value, "value column")
        self.pushdown = pushdown
        self.columns = tuple(c for c in (self.group, self.value) if c)
        self.groups: GroupSums = {}
        self.pending: GroupSums = {}  # since the last checkpoint (`take_pending`)

    def take_pending(self) -> GroupSums:
        """The sums added since the last call: what a checkpoint adds to the stored partial sums."""
        pending, self.pending = self.pending, {}
        return pending

    def add_groups(self, rows: Sequence[tuple[Any, Any, Any]]) -> None:
        """Merge (group, sum, count) rows from one pushed-down sub-range."""
        for groups in (self.groups, self.pending):
            for g, s, n in rows:
                acc = groups.get(g)
                if acc is None:
                    groups[g] = [s if s is not None else 0, n]
                else:
                    acc[0] += s if s is not None else 0
                    acc[1] += n

    def process(self, rows: Sequence[tuple[Any, ...]], columns: tuple[str, ...]) -> None:
        gi = columns.index(self.group) if self.group else None
        vi = columns.index(self.value)
        batch: GroupSums = {}
        for row in rows:
            g = row[gi] if gi is not None else None
            v = row[vi]
            acc = batch.get(g)
            if acc is None:
                batch[g] = [v if v is not None else 0, 1]
            else:
                if v is not None:
                    acc[0] += v
                acc[1] += 1
        self.add_groups([(g, s, n) for g, (s, n) in batch.items()])

    def finish(self) -> dict[str, Any]:
        total = sum((Decimal(s) for s, _ in self.groups.values()), Decimal(0))
        return {"groups": len(self.groups), "value_sum": str(total)}


class ArrowProcessor(Processor):
    """Base class of a processor that takes its batches as Arrow tables: `mode = "arrow"`.

    The scanner reads each keyset sub-range of the chunk straight into Arrow (no Python tuple per row:
    the rows mode's cost; numeric columns as arrays from the binary protocol, others by ConnectorX:
    bulkscan.mysqldb.arrow) and hands it to `process_arrow` as a `pyarrow.Table` whose columns are the
    key (unless `with_key` is False) then `columns`. Sub-ranges are sized like batches
    (`batch_seconds`), so memory stays bounded by one sub-range; checkpoints and resumption are the
    rows mode's.
    """

    mode: ClassVar[str] = "arrow"
    with_key: ClassVar[bool] = True  # False: the tables hold only `columns`, and the key is not read

    def process(self, rows: Sequence[tuple[Any, ...]], columns: tuple[str, ...]) -> None:
        raise TypeError(f"{type(self).__name__} takes Arrow batches (process_arrow), not rows")

    def process_arrow(self, table: Any) -> None:
        """One sub-range's rows as a pyarrow.Table (key first unless `with_key` is False, then `columns`)."""
        raise NotImplementedError


class ArrowAggregate(AggregateByKey, ArrowProcessor):
    """The aggregate (sum of `value` and count per `group`) computed by Arrow from Arrow batches: what a
    user's columnar processor looks like, and the rows mode's per-user sums at columnar speed. Results,
    checkpoints and the reconcile are the aggregate's."""

    mode: ClassVar[str] = "arrow"
    with_key: ClassVar[bool] = False  # the sums need no key: fewer bytes per row to read

    def __init__(self, group: str | None, value: str) -> None:
        super().__init__(group, value, pushdown=False)

    def process_arrow(self, table: Any) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        if table.num_rows == 0:
            return
        values = table.column(self.value)
        if pa.types.is_integer(values.type):
            # Arrow's integer sums wrap around silently; where this batch's could leave 64 bits, sum it
            # as a 38-digit decimal instead, exact as the SQL aggregate's DECIMAL sums are.
            low, high = pc.min_max(values).values()
            bound = max(abs(low.as_py() or 0), abs(high.as_py() or 0)) * table.num_rows
            if bound >= 2**63:
                table = table.set_column(
                    table.schema.get_field_index(self.value), self.value, values.cast(pa.decimal128(38, 0))
                )
        if self.group is None:
            table = table.append_column("__all", pa.nulls(table.num_rows, pa.int8()))
        keys = self.group or "__all"
        # One thread: a chunk worker is one of several running side by side, and Arrow's own pool of a
        # thread per core would only compete with them (and costs its start-up in every worker).
        agg = table.group_by(keys, use_threads=False).aggregate([(self.value, "sum"), ([], "count_all")])
        groups = agg.column(keys).to_pylist()
        sums = [int(v) if isinstance(v, Decimal) else v for v in agg.column(f"{self.value}_sum").to_pylist()]
        counts = agg.column("count_all").to_pylist()
        self.add_groups(
            [(None if self.group is None else g, s, n) for g, s, n in zip(groups, sums, counts, strict=True)]
        )


def arrow_aggregate(**kwargs: Any) -> ArrowAggregate:
    """'bulkscan.core.processors:arrow_aggregate' with processor_args {"group": ..., "value": ...}."""
    return ArrowAggregate(kwargs.get("group") or None, kwargs["value"])


class SqlFileAggregate(AggregateByKey):
    """The user's own query per item, from a file under include/sql/ (see `bulkscan.core.sqlfiles.user_query`).

    The file returns (group, value, count) rows for `{table}` rows in `{range}`; the scanner runs it
    server-side per item (or per key sub-range of a big one) exactly like the built-in aggregate, so
    results merge, reconcile and replace on retry the same way.
    """

    def __init__(self, file: str, params: Mapping[str, Any] | None = None) -> None:
        self.query: UserQuery = user_query(file, params)
        self.group, self.value, self.pushdown = None, "", True
        self.columns = ()
        self.groups = {}
        self.pending = {}

    def refuse_filters(self, filters: Sequence[Any]) -> None:
        """Filters are the built-in aggregate's: a query file says its own conditions, bound."""
        if filters:
            raise BulkscanInputError("filters do not apply to a query file: put the conditions in the file")

    def add_groups(self, rows: Sequence[tuple[Any, ...]]) -> None:
        for row in rows:
            if len(row) != 3 or isinstance(row[2], bool) or not isinstance(row[2], int):
                raise BulkscanError(
                    f"query file {self.query.name}.sql must return (group, value, count) rows, got {row!r}"
                )
        super().add_groups(rows)


class SendMessages(Processor):
    """Seed 000's per-row job, `send_message(name)`, exactly once: each row's message is written to
    bulkscan_outbox in the same transaction as its batch's checkpoint, and a relay delivers from there
    (the transactional outbox). A retried chunk resumes after its last checkpoint, and a row key is
    never written twice, so every row's message is in the outbox once.
    """

    def __init__(self, column: str, template: str = "hello {}") -> None:
        self.column = validate_identifier(column, "message column")
        self.template = str(template)
        self.columns = (self.column,)
        self.pending: list[tuple[str, str]] = []
        self.sent = 0
        self.replayed = 0

    def process(self, rows: Sequence[tuple[Any, ...]], columns: tuple[str, ...]) -> None:
        chunk = self.ctx.chunk
        n = len(chunk.columns) if isinstance(chunk, KeyChunk) else 1
        i = columns.index(self.column)
        for row in rows:
            key = str(row[0]) if n == 1 else json.dumps(list(row[:n]), default=str)
            self.pending.append((key, self.template.format(row[i])))
        if self.replay:
            self.replayed += len(rows)

    def commit_batch(self, tx: BatchTx) -> None:
        tx.outbox(self.pending)
        self.sent += len(self.pending)
        self.pending = []

    def finish(self) -> dict[str, Any]:
        return {"messages": self.sent, "replayed_rows": self.replayed}


def send_messages(**kwargs: Any) -> SendMessages:
    """'bulkscan.core.processors:send_messages' with processor_args {"column": "name"}."""
    return SendMessages(**kwargs)
