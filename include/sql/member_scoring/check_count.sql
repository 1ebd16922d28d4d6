SELECT COUNT(*) FROM sc_check
