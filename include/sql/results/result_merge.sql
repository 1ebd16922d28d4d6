-- Every chunk's partial sums of the run, folded into one row per group.
INSERT INTO {schema}.bulkscan_result (run_key, group_key, value_sum, row_count)
SELECT run_key, group_key, SUM(value_sum), SUM(row_count) FROM {schema}.bulkscan_partial
WHERE run_key = %s GROUP BY run_key, group_key
