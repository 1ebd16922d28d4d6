SELECT COUNT(*), COALESCE(SUM(row_count), 0) FROM {schema}.bulkscan_partial WHERE run_key = %s AND chunk_index = %s
