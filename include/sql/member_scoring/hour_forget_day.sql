-- A day re-run from its whole flows drops its hourly folds (bound: the day, twice).
DELETE FROM {db}.flow_hour_sum WHERE day = %s;
DELETE FROM {db}.scoring_hour_ledger WHERE day = %s
