SELECT COUNT(*) FROM {db}.member_score
