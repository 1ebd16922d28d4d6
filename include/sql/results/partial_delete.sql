-- What an earlier attempt of this run and chunk wrote: replaced, never added to.
DELETE FROM {schema}.bulkscan_partial WHERE run_key = %s AND chunk_index = %s
