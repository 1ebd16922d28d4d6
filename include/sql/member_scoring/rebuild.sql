-- Every member's state as of day D computed from flow_day_sum alone (the full rebuild, the verify
-- check, and a re-run's affected members when {scope} joins sc_aff).
-- Binds: first day of the window, D - W, W, D.
INSERT INTO {target} (uid, window_total, tier, as_of_day)
SELECT uid, total, {tier}, as_of FROM (
  SELECT f.uid,
         SUM(CASE WHEN f.day >= %s THEN f.score_sum ELSE 0 END) AS total,
         MAX(CASE WHEN f.day <= %s THEN f.day + INTERVAL %s DAY ELSE f.day END) AS as_of
  FROM {db}.flow_day_sum f {scope}
  WHERE f.day <= %s
  GROUP BY f.uid
) t
