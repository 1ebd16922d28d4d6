-- Members whose rebuilt state differs from member_score, or who are missing from it.
SELECT COUNT(*) FROM sc_check c LEFT JOIN {db}.member_score m ON m.uid = c.uid
WHERE m.uid IS NULL OR NOT (m.window_total <=> c.window_total AND m.tier <=> c.tier AND m.as_of_day <=> c.as_of_day)
