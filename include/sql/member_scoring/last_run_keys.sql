-- The run keys of the days applied last, newest first (bound: how many): the runs whose chunk rates the
-- next plan derives its chunks' time limits from.
SELECT run_key FROM {db}.scoring_ledger ORDER BY last_applied_at DESC LIMIT %s
