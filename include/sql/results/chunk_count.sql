SELECT COUNT(*) FROM {schema}.bulkscan_chunk WHERE run_key = %s
