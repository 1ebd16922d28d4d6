REPLACE INTO {schema}.bulkscan_run (run_key, job, source, chunks, rows_scanned, groups_count, value_sum)
VALUES (%s, %s, %s, %s, %s, %s, %s)
