-- One key sub-range of a chunk for a columnar reader (ConnectorX), which takes no bound parameters:
-- the bounds are integers and the filter values are quoted by the driver's own literal() first.
SELECT {columns} FROM {table} WHERE {key} >= {lo} AND {key} < {hi} AND {where}
