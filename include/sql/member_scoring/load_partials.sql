-- The day's per-member sums from one producer run key (table chunks, shard tables, Redis nodes).
-- {partials} is the results store's bulkscan_partial table (ResultStore.copy_partials fills it in).
-- Added up row by row on the hash key rather than with GROUP BY (which sorts a million strings):
-- a member seen by several chunks or producers is summed.
INSERT INTO sc_new (uid, score_sum, flows)
SELECT CAST(group_key AS SIGNED), value_sum, row_count
FROM {partials} WHERE run_key = %s
ON DUPLICATE KEY UPDATE score_sum = sc_new.score_sum + VALUES(score_sum), flows = sc_new.flows + VALUES(flows)
