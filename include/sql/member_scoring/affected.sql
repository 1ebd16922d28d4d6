-- Members whose sums of a re-run day changed (bound: the day, twice): new or different rows, then
-- rows that disappeared.
INSERT INTO sc_aff (uid)
SELECT n.uid FROM sc_new n LEFT JOIN {db}.flow_day_sum f ON f.day = %s AND f.uid = n.uid
WHERE f.uid IS NULL OR f.score_sum <> n.score_sum OR f.flows <> n.flows;
INSERT INTO sc_aff (uid)
SELECT f.uid FROM {db}.flow_day_sum f LEFT JOIN sc_new n ON n.uid = f.uid
WHERE f.day = %s AND n.uid IS NULL
