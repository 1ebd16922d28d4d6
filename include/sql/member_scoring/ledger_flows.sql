-- Flows each applied day of a range was applied with (the late-data lookback compares them with t_flow now).
SELECT day, flows FROM {db}.scoring_ledger WHERE day >= %s AND day < %s ORDER BY day
