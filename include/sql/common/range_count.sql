-- Rows of one chunk's range, counted independently of the scan (summarize reconciles against it).
SELECT COUNT(*) FROM {table} WHERE {key} >= %s AND {key} < %s AND {where}
