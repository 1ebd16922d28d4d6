DELETE m FROM {db}.member_score m JOIN sc_aff a ON a.uid = m.uid
