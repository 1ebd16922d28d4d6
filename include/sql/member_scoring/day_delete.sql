-- A forward day is written as one block (bound: the day).
DELETE FROM {db}.flow_day_sum WHERE day = %s
