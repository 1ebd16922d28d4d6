-- The engine's estimate of the rows in one key range (InnoDB: two B-tree dives, records_in_range),
-- read from EXPLAIN's `rows`; the table is never read. bulkscan.core.estimated_plan explains the use.
EXPLAIN SELECT {key} FROM {table} WHERE {key} >= %s AND {key} < %s
