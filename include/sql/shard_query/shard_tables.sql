-- Base tables of one shard host's database with the server's row estimate: every topology table must
-- be present, and only shards estimated big enough to need chunks pay for a planning pass.
SELECT TABLE_NAME, TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_TYPE = 'BASE TABLE'
