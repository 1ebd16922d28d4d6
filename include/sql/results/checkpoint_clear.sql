-- A fresh start of a chunk: what an earlier try of it (or of an earlier plan) left is dropped.
DELETE FROM {schema}.bulkscan_partial WHERE run_key = %s AND chunk_index = %s;
DELETE FROM {schema}.bulkscan_checkpoint WHERE run_key = %s AND chunk_index = %s
