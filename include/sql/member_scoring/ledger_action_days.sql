-- Applied days a re-run's change reaches whose actions are recomputed (bound: first, last).
SELECT day FROM {db}.scoring_ledger WHERE day BETWEEN %s AND %s AND first_step <> 'rebuild' ORDER BY day
