INSERT INTO {db}.flow_day_sum (day, uid, score_sum, flows)
SELECT %s, uid, score_sum, flows FROM sc_new ORDER BY uid
