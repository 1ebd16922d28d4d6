SELECT COUNT(*) FROM sc_trans
