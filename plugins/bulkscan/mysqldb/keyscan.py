"""The loops of a chunk keyed by a composite or string key (`KeyChunk`): keyset batches and pushed-down
sub-ranges compared as tuples by the server (bulkscan.core.keys), since such keys cannot be stepped by
arithmetic; sub-ranges are found by walking the index. Integer keys: bulkscan.mysqldb.scanner.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from bulkscan.core.dbapi import Row
from bulkscan.core.keys import Key, KeyChunk, compare_params, compare_sql, key_select
from bulkscan.core.processors import AggregateByKey, Processor
from bulkscan.core.sqlfiles import Fragment, render
from bulkscan.mysqldb.scanstate import ROLLUP_COUNT, ScanState, grouping_sql
from bulkscan.mysqldb.source import TableSpec


class KeyScan(ScanState):
    """The tuple-key loops of a chunk scan."""

    def _key_rows(self, processor: Processor, spec: TableSpec, chunk: KeyChunk, columns: tuple[str, ...]) -> None:
        """Keyset batches of a composite or string key: `key > last done` compared by the server."""
        batch, stats, n = self.batch, self.stats, len(spec.keys)
        _, order = key_select(spec.keys)
        where, where_params = spec.where()
        done: Key | None = tuple(self.position["after"]) if "after" in self.position else None
        while True:
            rng, rng_params = chunk.where() if done is None else chunk.after(done)
            sql = render(
                "common/key_batch",
                columns=spec.column_sql(columns),
                table=spec.table_sql(),
                range=Fragment(rng),
                where=where,
                order=order,
            )
            size = batch.size
            t0 = time.monotonic()
            rows = self._key_batch(sql, (rng, rng_params), (where, where_params), size)
            batch.observe(len(rows), time.monotonic() - t0)
            if not rows:
                break
            processor.process(rows, columns)
            done = tuple(rows[-1][:n])
            stats.rows += len(rows)
            stats.batches += 1
            self.commit({"after": list(done), "size": batch.size}, processor)
            self.progress.update(stats.rows, 0, batch.size)
            if len(rows) < size:
                break

    def _key_aggregate(self, processor: AggregateByKey, chunk: KeyChunk) -> None:
        """Pushed-down groups per sub-range of a tuple-key chunk, sub-ranges found by walking its index."""
        spec, batch = self.spec, self.batch
        keys, order = key_select(spec.keys)
        where, where_params = spec.where()
        group = Fragment(spec.column_sql([processor.group]) if processor.group else "NULL")
        rollup = self.rolls_up(processor)
        upper, upper_params = chunk.upper()
        walk_sql = render(
            "common/key_walk",
            keys=keys,
            table=spec.table_sql(),
            range=Fragment(f"{compare_sql(spec.keys, '>=')} AND {upper}"),
            where=where,
            order=order,
        )
        # A walked sub-range holds at most `batch.size` (filtered) rows: summed in a DOUBLE when that is
        # exact (TableSpec.double_exact_rows); an unwalked one (a chunk estimated to fit) is not bounded.
        limit = spec.double_exact_rows(processor.value)
        cur: Key = tuple(self.position["from"]) if "from" in self.position else chunk.lo
        while True:
            t0 = time.monotonic()
            step, in_double = None, False
            if not (cur == chunk.lo and chunk.rows is not None and chunk.rows <= batch.size):
                in_double = batch.size <= limit
                found = self.db.query(walk_sql, (*compare_params(cur), *upper_params, *where_params, batch.size - 1))
                step = (tuple(found[0]), tuple(found[1])) if len(found) == 2 else None
            sub = KeyChunk(chunk.index, chunk.columns, cur, step[1], step[0]) if step else replace(chunk, lo=cur)
            rng, rng_params = sub.where()
            sql = render(
                "common/key_range_aggregate",
                group_expr=group,
                value=spec.value_sql(processor.value, in_double),
                table=spec.table_sql(),
                range=Fragment(rng),
                where=where,
                grouping=grouping_sql(rollup),
            )
            count_sql = render("common/key_range_count", table=spec.table_sql(), range=Fragment(rng), where=where)
            params = (*rng_params, *where_params)
            counting = ROLLUP_COUNT if rollup else (count_sql, params)
            self._groups(processor, (sql, params), 0, t0, counting, limit if in_double else 0)
            if step is None:
                self.commit({"end": True}, processor)
                return
            cur = step[1]
            self.commit({"from": list(cur), "size": batch.size}, processor)

    def _key_batch(
        self, sql: str, rng: tuple[str, tuple[Any, ...]], where: tuple[Fragment, tuple[Any, ...]], size: int
    ) -> Sequence[Row]:
        """A keyset batch of a composite or string key, counted like `_id_batch` with tuple comparisons."""
        spec, n = self.spec, len(self.spec.keys)

        def count(got: Sequence[Row]) -> tuple[str, Any]:
            counted, params = rng
            if len(got) == size:  # up to the batch's last key
                counted = f"{counted} AND {compare_sql(spec.keys, '<=')}"
                params = (*params, *compare_params(tuple(got[-1][:n])))
            sql_count = render(
                "common/key_range_count", table=spec.table_sql(), range=Fragment(counted), where=where[0]
            )
            return sql_count, (*params, *where[1])

        return self._counted((sql, (*rng[1], *where[1], size)), count)
