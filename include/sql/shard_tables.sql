-- Base tables present in one shard host's database: every topology table is checked before any scan.
SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_TYPE = 'BASE TABLE'
