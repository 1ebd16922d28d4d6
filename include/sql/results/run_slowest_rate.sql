-- The slowest seconds per row of any chunk (of a minimum size) of one run (bound: run key, minimum rows):
-- for a job whose runs are applied elsewhere than bulkscan_run (member scoring's ledger).
SELECT MAX(seconds / rows_scanned) FROM {schema}.bulkscan_chunk WHERE run_key = %s AND rows_scanned >= %s
