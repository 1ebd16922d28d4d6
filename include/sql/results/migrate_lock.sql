-- One schema migration at a time per results schema (two DAGs' first plans may start together).
SELECT GET_LOCK(%s, %s)
