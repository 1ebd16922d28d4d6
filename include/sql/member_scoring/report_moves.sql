-- The run report: the day's actions per kind and tier move.
SELECT action, from_tier, to_tier, COUNT(*) FROM {db}.member_action WHERE day = %s
GROUP BY action, from_tier, to_tier ORDER BY action, from_tier, to_tier
