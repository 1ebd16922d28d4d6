-- Every chunk's partial sums of the run, folded into one row per group. Read through by_group (revision
-- 0003) in group order, so the server adds them up as it goes: no temporary table, whose rows would
-- spill to disk past tmp_table_size. The run key is bound, not grouped on: grouping on it too kept the
-- optimizer from the index (and made each temporary row a kilobyte longer).
INSERT INTO {schema}.bulkscan_result (run_key, group_key, value_sum, row_count)
SELECT %s, group_key, SUM(value_sum), SUM(row_count) FROM {schema}.bulkscan_partial FORCE INDEX (by_group)
WHERE run_key = %s GROUP BY group_key
