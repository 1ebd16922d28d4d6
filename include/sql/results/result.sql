SELECT group_key, value_sum, row_count FROM {schema}.bulkscan_result WHERE run_key = %s
