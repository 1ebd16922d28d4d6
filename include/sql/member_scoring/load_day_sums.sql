-- The day's sums as the hourly folds left them in flow_day_sum (bound: the day): the close's sc_new.
INSERT INTO sc_new (uid, score_sum, flows) SELECT uid, score_sum, flows FROM {db}.flow_day_sum WHERE day = %s
