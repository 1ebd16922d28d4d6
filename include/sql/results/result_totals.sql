SELECT COUNT(*), SUM(value_sum) FROM {schema}.bulkscan_result WHERE run_key = %s
