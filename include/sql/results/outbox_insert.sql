-- A processor's messages, committed with their batch's checkpoint; a key already there is kept as it is.
INSERT IGNORE INTO {schema}.bulkscan_outbox (run_key, chunk_index, row_key, message, try_number)
VALUES (%s, %s, %s, %s, %s)
