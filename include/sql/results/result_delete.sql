DELETE FROM {schema}.bulkscan_result WHERE run_key = %s
