-- Members and flows of the hour being folded.
SELECT COUNT(*), COALESCE(SUM(flows), 0) FROM sc_hour
