-- First and last applied day.
SELECT MIN(day), MAX(day) FROM {db}.scoring_ledger
