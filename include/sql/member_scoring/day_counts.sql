-- Members and flows of one applied day.
SELECT COUNT(*), COALESCE(SUM(flows), 0) FROM {db}.flow_day_sum WHERE day = %s
