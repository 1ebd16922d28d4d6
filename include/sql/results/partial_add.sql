-- One checkpointed batch's partial sums, added to what earlier batches of the chunk stored.
INSERT INTO {schema}.bulkscan_partial (run_key, chunk_index, group_key, value_sum, row_count)
VALUES (%s, %s, %s, %s, %s)
ON DUPLICATE KEY UPDATE value_sum = value_sum + VALUES(value_sum), row_count = row_count + VALUES(row_count)
