-- The engine's estimate of the rows in one range of a composite key's leading columns (equal values
-- for the columns before, a half-open range on the next), read from EXPLAIN's `rows`; the table is never
-- read. bulkscan.mysqldb.keyestimate explains the use.
EXPLAIN SELECT {keys} FROM {table} WHERE {range}
