-- One key sub-range of a chunk as a server-side prepared statement (bulkscan.mysqldb.binary_ranges):
-- its rows come in the binary protocol, read as fixed-width arrays. `?` are bound: the bounds, then
-- the filter values.
SELECT {columns} FROM {table} WHERE {key} >= ? AND {key} < ? AND {where}
