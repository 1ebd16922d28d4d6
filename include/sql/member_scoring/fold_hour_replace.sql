-- The hour's block is replaced (bound: day, hour; day, hour).
DELETE FROM {db}.flow_hour_sum WHERE day = %s AND hour_index = %s;
INSERT INTO {db}.flow_hour_sum (day, hour_index, uid, score_sum, flows)
SELECT %s, %s, uid, score_sum, flows FROM sc_hour ORDER BY uid
