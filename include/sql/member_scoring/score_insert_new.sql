-- Members seen for the first time (bound: the day).
INSERT INTO {db}.member_score (uid, window_total, tier, as_of_day)
SELECT uid, cur_total, {to_tier}, %s FROM sc_trans WHERE is_new = 1 ORDER BY uid
