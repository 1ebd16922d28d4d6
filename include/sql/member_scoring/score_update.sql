-- New totals and tiers of the members the day touched who had a row (bound: the day): an UPDATE
-- joined on the primary key writes in place, cheaper than INSERT ... ON DUPLICATE KEY UPDATE per row.
UPDATE {db}.member_score m JOIN sc_trans t ON t.uid = m.uid
SET m.window_total = t.cur_total, m.tier = {to_tier}, m.as_of_day = %s
WHERE t.is_new = 0
