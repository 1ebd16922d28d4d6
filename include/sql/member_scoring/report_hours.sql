-- The run report: hours of the day folded by member_scoring_hourly (and at the close).
SELECT COUNT(*), COALESCE(SUM(flows), 0) FROM {db}.scoring_hour_ledger WHERE day = %s
