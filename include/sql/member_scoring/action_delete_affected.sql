DELETE ma FROM {db}.member_action ma JOIN sc_aff a ON a.uid = ma.uid WHERE ma.day = %s
