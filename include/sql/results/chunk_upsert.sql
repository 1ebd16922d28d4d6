INSERT INTO {schema}.bulkscan_chunk (run_key, chunk_index, job, source, lo, hi, lo_key, hi_key, label,
  planned_rows, rows_scanned, groups_count, try_number, seconds, summary)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON DUPLICATE KEY UPDATE job = VALUES(job), source = VALUES(source), lo = VALUES(lo),
  hi = VALUES(hi), lo_key = VALUES(lo_key), hi_key = VALUES(hi_key), label = VALUES(label),
  planned_rows = VALUES(planned_rows), rows_scanned = VALUES(rows_scanned),
  groups_count = VALUES(groups_count), try_number = VALUES(try_number), writes = writes + 1,
  seconds = VALUES(seconds), summary = VALUES(summary)
