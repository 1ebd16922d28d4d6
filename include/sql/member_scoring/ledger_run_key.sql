SELECT run_key FROM {db}.scoring_ledger WHERE day = %s
