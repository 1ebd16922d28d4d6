DELETE FROM {db}.member_score
