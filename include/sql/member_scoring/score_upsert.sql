-- New totals and tiers of the members the day touched (bound: the day).
INSERT INTO {db}.member_score (uid, window_total, tier, as_of_day)
SELECT uid, cur_total, {to_tier}, %s FROM sc_trans ORDER BY uid
ON DUPLICATE KEY UPDATE window_total = VALUES(window_total), tier = VALUES(tier), as_of_day = VALUES(as_of_day)
