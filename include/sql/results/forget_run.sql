-- A run's partial sums and chunk rows, once its result is applied elsewhere (re-creatable from the source).
DELETE FROM {schema}.bulkscan_partial WHERE run_key = %s;
DELETE FROM {schema}.bulkscan_chunk WHERE run_key = %s
