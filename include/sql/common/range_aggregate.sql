-- Server-side sum and count per group over one key sub-range (the aggregate processor's pushdown).
-- ORDER BY NULL: MariaDB would otherwise sort the groups, which nobody needs here.
SELECT {group_expr}, SUM({value}), COUNT(*) FROM {table} WHERE {key} >= %s AND {key} < %s AND {where} GROUP BY 1 ORDER BY NULL
