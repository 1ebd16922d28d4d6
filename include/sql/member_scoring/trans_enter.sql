-- Members active on the new day: their total so far plus the day's sum.
INSERT INTO sc_trans (uid, prev_total, cur_total, day_sum, day_flows)
SELECT n.uid, COALESCE(m.window_total, 0), COALESCE(m.window_total, 0) + n.score_sum, n.score_sum, n.flows
FROM sc_new n LEFT JOIN {db}.member_score m ON m.uid = n.uid
