-- Members whose day leaves the window (bound: that day): take its sum off.
INSERT INTO sc_trans (uid, prev_total, cur_total, day_sum, day_flows)
SELECT f.uid, m.window_total, m.window_total - f.score_sum, 0, 0
FROM {db}.flow_day_sum f JOIN {db}.member_score m ON m.uid = f.uid
WHERE f.day = %s
ON DUPLICATE KEY UPDATE cur_total = sc_trans.cur_total - (VALUES(prev_total) - VALUES(cur_total))
