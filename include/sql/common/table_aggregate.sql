-- Server-side sum and count per group over a whole table (a shard small enough for one query).
-- No key predicate: evaluating `key >= lo AND key < hi` on every row costs about a tenth more server CPU.
-- {grouping}: ORDER BY NULL, or WITH ROLLUP for the count in the same pass (range_aggregate.sql).
SELECT {hint} {group_expr}, SUM({value}), COUNT(*) FROM {table} WHERE {where} GROUP BY 1 {grouping}
