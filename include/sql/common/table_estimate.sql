-- The engine's row estimate (InnoDB: approximate), used only to decide whether an exact COUNT(*) is needed.
SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s
