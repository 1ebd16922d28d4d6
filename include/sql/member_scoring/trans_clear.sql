DELETE FROM sc_trans
