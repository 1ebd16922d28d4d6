SELECT actions FROM {db}.scoring_ledger WHERE day = %s
