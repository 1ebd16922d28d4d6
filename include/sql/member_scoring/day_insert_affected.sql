INSERT INTO {db}.flow_day_sum (day, uid, score_sum, flows)
SELECT %s, n.uid, n.score_sum, n.flows FROM sc_new n JOIN sc_aff a ON a.uid = n.uid
