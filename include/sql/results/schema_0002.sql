-- Revision 0002: key bounds that hold every integer key (-2^63 .. 2^64: the half-open end of the last
-- chunk of a BIGINT UNSIGNED key can be 2^64), bounds of composite and string keys (JSON arrays), the
-- chunk's label as the Grid shows it, and per-batch checkpoints so a retried chunk resumes.
ALTER TABLE {schema}.bulkscan_chunk
  MODIFY COLUMN lo DECIMAL(20, 0) NULL,
  MODIFY COLUMN hi DECIMAL(20, 0) NULL,
  ADD COLUMN IF NOT EXISTS lo_key TEXT NULL AFTER hi,
  ADD COLUMN IF NOT EXISTS hi_key TEXT NULL AFTER lo_key,
  ADD COLUMN IF NOT EXISTS label VARCHAR(250) NULL AFTER hi_key;
-- The last batch a chunk finished, written in the same transaction as the batch's effects (the
-- aggregate's partial sums, a processor's outbox rows), so a new try resumes after it.
CREATE TABLE IF NOT EXISTS {schema}.bulkscan_checkpoint (
  run_key     VARCHAR(250) NOT NULL,
  chunk_index INT          NOT NULL,
  bounds      TEXT         NOT NULL,
  last_key    TEXT         NOT NULL,
  rows_done   BIGINT       NOT NULL,
  batches     BIGINT       NOT NULL,
  try_number  INT          NOT NULL,
  done        TINYINT      NOT NULL DEFAULT 0,
  updated_at  TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  PRIMARY KEY (run_key, chunk_index)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
-- Messages a processor emits per row (seed 000's send_message), committed with the checkpoint of their
-- batch: a relay delivers them, and a retried chunk never writes one twice.
CREATE TABLE IF NOT EXISTS {schema}.bulkscan_outbox (
  run_key     VARCHAR(250) NOT NULL,
  chunk_index INT          NOT NULL,
  row_key     VARCHAR(250) NOT NULL,
  message     TEXT         NOT NULL,
  try_number  INT          NOT NULL,
  created_at  TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (run_key, chunk_index, row_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
