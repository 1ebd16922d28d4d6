-- A chunk's checkpoint (locked inside a checkpoint transaction, so a commit is applied once).
SELECT bounds, last_key, rows_done, batches, done FROM {schema}.bulkscan_checkpoint
WHERE run_key = %s AND chunk_index = %s {lock}
