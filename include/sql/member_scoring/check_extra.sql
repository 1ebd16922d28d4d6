-- Members in member_score that a rebuild does not produce.
SELECT COUNT(*) FROM {db}.member_score m LEFT JOIN sc_check c ON c.uid = m.uid WHERE c.uid IS NULL
