-- A run's partial sums, once its result is applied elsewhere (re-creatable from the source). Its chunk
-- rows stay: the run's record, and what the next plan derives its time limits from (run_slowest_rate).
DELETE FROM {schema}.bulkscan_partial WHERE run_key = %s
