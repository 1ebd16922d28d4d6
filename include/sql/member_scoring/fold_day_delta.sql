-- Move the day's block of flow_day_sum by the hour's difference: its new sums in, the sums it was last
-- folded with (if any) out (bound: the day; the day and hour of the old block).
INSERT INTO {db}.flow_day_sum (day, uid, score_sum, flows)
SELECT %s, uid, SUM(score_sum), SUM(flows) FROM (
  SELECT uid, score_sum, flows FROM sc_hour
  UNION ALL
  SELECT uid, -score_sum, -flows FROM {db}.flow_hour_sum WHERE day = %s AND hour_index = %s
) d GROUP BY uid
ON DUPLICATE KEY UPDATE score_sum = flow_day_sum.score_sum + VALUES(score_sum),
  flows = flow_day_sum.flows + VALUES(flows)
