SELECT chunk_index, row_key, message, try_number FROM {schema}.bulkscan_outbox WHERE run_key = %s
ORDER BY chunk_index, row_key
