-- The folded hours of one day (bound: the day): what the close re-counts.
SELECT hour_index, created_from, created_to, flows FROM {db}.scoring_hour_ledger WHERE day = %s ORDER BY hour_index
