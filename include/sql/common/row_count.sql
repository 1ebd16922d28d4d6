-- Rows a tuple-key scan will cover (when the estimate cannot tell whether max_chunks is enough).
SELECT COUNT(*) FROM {table} WHERE {where}
