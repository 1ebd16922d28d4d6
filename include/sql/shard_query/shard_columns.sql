-- Columns and types of every table of one shard host's database (one query per host, not per table).
SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s
