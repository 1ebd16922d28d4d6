-- The run report: members per tier now (member_score holds the state as of the last applied day).
SELECT tier, COUNT(*) FROM {db}.member_score GROUP BY tier
