-- Columns of a table with their types and whether each leads an index (identifier validation); the
-- full COLUMN_TYPE ('int(11) unsigned') says how big a value can be (TableSpec.double_exact_rows).
SELECT c.COLUMN_NAME, c.DATA_TYPE,
       EXISTS(SELECT 1 FROM information_schema.STATISTICS s
              WHERE s.TABLE_SCHEMA = c.TABLE_SCHEMA AND s.TABLE_NAME = c.TABLE_NAME
                AND s.COLUMN_NAME = c.COLUMN_NAME AND s.SEQ_IN_INDEX = 1) AS leads_index,
       c.COLUMN_TYPE
FROM information_schema.COLUMNS c
WHERE c.TABLE_SCHEMA = %s AND c.TABLE_NAME = %s
ORDER BY c.ORDINAL_POSITION
