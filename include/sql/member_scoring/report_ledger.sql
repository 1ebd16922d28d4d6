-- The run report: the last 30 applied days up to the run's day (newest first).
SELECT day, flows, members, changed_members, actions, runs, last_step FROM {db}.scoring_ledger
WHERE day <= %s ORDER BY day DESC LIMIT 30
