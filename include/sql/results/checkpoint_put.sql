INSERT INTO {schema}.bulkscan_checkpoint (run_key, chunk_index, bounds, last_key, rows_done, batches, try_number, done)
VALUES (%s, %s, %s, %s, %s, %s, %s, 0)
ON DUPLICATE KEY UPDATE bounds = VALUES(bounds), last_key = VALUES(last_key), rows_done = VALUES(rows_done),
  batches = VALUES(batches), try_number = VALUES(try_number), done = 0
