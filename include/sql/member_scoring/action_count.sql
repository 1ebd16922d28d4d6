SELECT COUNT(*) FROM {db}.member_action WHERE day = %s
