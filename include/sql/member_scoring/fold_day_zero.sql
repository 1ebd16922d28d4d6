-- After an hour was folded again with fewer flows: members left with no flow on the day (bound: the day).
DELETE FROM {db}.flow_day_sum WHERE day = %s AND flows = 0
