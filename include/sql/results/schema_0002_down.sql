-- Back to revision 0001 (fails, changing nothing, if a bound outside BIGINT is stored).
DROP TABLE IF EXISTS {schema}.bulkscan_outbox;
DROP TABLE IF EXISTS {schema}.bulkscan_checkpoint;
ALTER TABLE {schema}.bulkscan_chunk
  DROP COLUMN IF EXISTS label,
  DROP COLUMN IF EXISTS hi_key,
  DROP COLUMN IF EXISTS lo_key,
  MODIFY COLUMN lo BIGINT NOT NULL,
  MODIFY COLUMN hi BIGINT NOT NULL;
