-- One ledger row per applied day (bound: day, first step, last step, run key, window, config digest,
-- calendar, flows, members, changed members, actions); a re-run updates it and counts the run.
INSERT INTO {db}.scoring_ledger (day, first_step, last_step, run_key, window_days, config_digest, calendar,
  flows, members, changed_members, actions) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON DUPLICATE KEY UPDATE last_step = VALUES(last_step), run_key = VALUES(run_key),
  window_days = VALUES(window_days), config_digest = VALUES(config_digest), calendar = VALUES(calendar),
  flows = VALUES(flows), members = VALUES(members), changed_members = VALUES(changed_members),
  actions = VALUES(actions), runs = runs + 1, last_applied_at = CURRENT_TIMESTAMP(6)
