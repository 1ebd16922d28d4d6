-- Members active on the new day: their total so far plus the day's sum ({day_sums}: the session's sc_new,
-- or, at the close of a day the hourly folds hold, that day's block of flow_day_sum, bound: the day).
INSERT INTO sc_trans (uid, prev_total, cur_total, day_sum, day_flows, is_new)
SELECT n.uid, COALESCE(m.window_total, 0), COALESCE(m.window_total, 0) + n.score_sum, n.score_sum, n.flows,
       m.uid IS NULL
FROM {day_sums} LEFT JOIN {db}.member_score m ON m.uid = n.uid
