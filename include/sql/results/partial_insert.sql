INSERT INTO {schema}.bulkscan_partial (run_key, chunk_index, group_key, value_sum, row_count) VALUES (%s, %s, %s, %s, %s)
