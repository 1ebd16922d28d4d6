SELECT chunk_index, source, lo, hi, lo_key, hi_key, label, planned_rows, rows_scanned, groups_count, try_number,
  writes, seconds, summary, updated_at
FROM {schema}.bulkscan_chunk WHERE run_key = %s ORDER BY chunk_index
