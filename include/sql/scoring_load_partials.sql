-- The day's per-member sums: every producer's partials (chunks, shards, Redis nodes) of one run.
INSERT INTO sc_new (uid, score_sum, flows)
SELECT CAST(group_key AS SIGNED), SUM(value_sum), SUM(row_count)
FROM {results}.bulkscan_partial WHERE run_key = %s GROUP BY group_key
