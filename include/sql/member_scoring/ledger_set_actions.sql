UPDATE {db}.scoring_ledger SET actions = %s WHERE day = %s
