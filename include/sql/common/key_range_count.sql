-- Rows of one tuple-key chunk, counted independently of the scan (summarize reconciles against it).
SELECT COUNT(*) FROM {table} WHERE {range} AND {where}
