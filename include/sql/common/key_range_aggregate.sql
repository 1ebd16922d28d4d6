-- Server-side sum and count per group over one tuple-key sub-range (the aggregate's pushdown).
SELECT {group_expr}, SUM({value}), COUNT(*) FROM {table} WHERE {range} AND {where} GROUP BY 1 ORDER BY NULL
