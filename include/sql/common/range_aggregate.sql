-- Server-side sum and count per group over one key sub-range (the aggregate processor's pushdown).
-- {hint}: SQL_BIG_RESULT when grouping by a column (grouping by sorting beat the in-memory temporary
-- table by 15-20% at 10^4 and 10^5 groups per million rows on the bench tables), else nothing (one
-- group: the hint costs 6%). {grouping}: ORDER BY NULL (MariaDB would otherwise sort the groups, which
-- nobody needs here), or WITH ROLLUP when the scan counts its ranges: the last row is then the server's
-- own count of the sub-range's rows, taken in the same pass (see `bulkscan.mysqldb.scanstate`).
SELECT {hint} {group_expr}, SUM({value}), COUNT(*) FROM {table} WHERE {key} >= %s AND {key} < %s AND {where} GROUP BY 1 {grouping}
