-- Server-side sum and count per group over one tuple-key sub-range (the aggregate's pushdown).
-- {grouping}: ORDER BY NULL, or WITH ROLLUP for the count in the same pass (range_aggregate.sql).
SELECT {group_expr}, SUM({value}), COUNT(*) FROM {table} WHERE {range} AND {where} GROUP BY 1 {grouping}
