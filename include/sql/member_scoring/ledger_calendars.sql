-- The calendars applied days were cut with (bound: what a row from before calendars means).
SELECT COALESCE(calendar, %s), MIN(day), MAX(day), COUNT(*) FROM {db}.scoring_ledger GROUP BY 1 ORDER BY 2
