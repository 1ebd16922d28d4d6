UPDATE {schema}.bulkscan_checkpoint SET done = 1 WHERE run_key = %s AND chunk_index = %s
