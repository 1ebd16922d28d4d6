-- A re-run replaces only the affected members' rows of the day (bound: the day).
DELETE f FROM {db}.flow_day_sum f JOIN sc_aff a ON a.uid = f.uid WHERE f.day = %s
