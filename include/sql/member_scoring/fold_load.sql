-- One hour's per-member sums from its producers' partials ({partials}: ResultStore.copy_partials).
INSERT INTO sc_hour (uid, score_sum, flows)
SELECT CAST(group_key AS SIGNED), value_sum, row_count
FROM {partials} WHERE run_key = %s
ON DUPLICATE KEY UPDATE score_sum = sc_hour.score_sum + VALUES(score_sum), flows = sc_hour.flows + VALUES(flows)
