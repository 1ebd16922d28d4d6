-- Unique indexes of a table with their columns in order and whether each is nullable: a composite or
-- string key must be exactly one of them (NOT NULL), or keyset batches could skip or repeat rows.
SELECT s.INDEX_NAME, s.COLUMN_NAME, c.IS_NULLABLE
FROM information_schema.STATISTICS s
JOIN information_schema.COLUMNS c
  ON c.TABLE_SCHEMA = s.TABLE_SCHEMA AND c.TABLE_NAME = s.TABLE_NAME AND c.COLUMN_NAME = s.COLUMN_NAME
WHERE s.TABLE_SCHEMA = %s AND s.TABLE_NAME = %s AND s.NON_UNIQUE = 0
ORDER BY s.INDEX_NAME = 'PRIMARY' DESC, s.INDEX_NAME, s.SEQ_IN_INDEX
