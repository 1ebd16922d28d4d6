-- The server computes a chunk's partial sums straight into the table: nothing crosses the wire.
-- {query} is bulkscan's own (group, sum, count) aggregate over the chunk's range, values bound.
INSERT INTO {schema}.bulkscan_partial (run_key, chunk_index, group_key, value_sum, row_count)
SELECT %s, %s, q.* FROM ({query}) AS q
