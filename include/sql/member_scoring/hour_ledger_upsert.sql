-- One row per folded hour (bound: day, hour, created_at from, to, label, run key, flows, members, by).
INSERT INTO {db}.scoring_hour_ledger (day, hour_index, created_from, created_to, label, run_key, flows, members,
  folded_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
ON DUPLICATE KEY UPDATE created_from = VALUES(created_from), created_to = VALUES(created_to), label = VALUES(label),
  run_key = VALUES(run_key), flows = VALUES(flows), members = VALUES(members), folded_by = VALUES(folded_by),
  runs = runs + 1, last_folded_at = CURRENT_TIMESTAMP(6)
