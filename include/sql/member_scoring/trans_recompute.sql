-- Totals of the re-run's affected members for one later day y, straight from flow_day_sum.
-- Binds: y (prev window ends before y), y - W (cur window starts after), y, y, y - W, y.
INSERT INTO sc_trans (uid, prev_total, cur_total, day_sum, day_flows)
SELECT a.uid,
       COALESCE(SUM(CASE WHEN f.day < %s THEN f.score_sum END), 0),
       COALESCE(SUM(CASE WHEN f.day > %s THEN f.score_sum END), 0),
       COALESCE(SUM(CASE WHEN f.day = %s THEN f.score_sum END), 0),
       COALESCE(SUM(CASE WHEN f.day = %s THEN f.flows END), 0)
FROM sc_aff a LEFT JOIN {db}.flow_day_sum f ON f.uid = a.uid AND f.day BETWEEN %s AND %s
GROUP BY a.uid
