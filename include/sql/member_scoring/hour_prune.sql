-- Hour blocks of days already applied are no longer read (bound: the last applied day).
DELETE FROM {db}.flow_hour_sum WHERE day <= %s
