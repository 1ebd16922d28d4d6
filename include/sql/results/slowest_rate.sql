-- The slowest seconds per row of any chunk (of a minimum size) in a source's last merged run: what a
-- chunk's time limit is derived from (bulkscan.core.chunks.chunk_time_limit).
SELECT MAX(c.seconds / c.rows_scanned)
FROM {schema}.bulkscan_chunk c
JOIN (
  SELECT run_key FROM {schema}.bulkscan_run WHERE job = %s AND source = %s ORDER BY finished_at DESC LIMIT 1
) r ON r.run_key = c.run_key
WHERE c.rows_scanned >= %s
