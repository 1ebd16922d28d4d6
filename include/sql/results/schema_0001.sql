-- Revision 0001 (the first release): bulkscan's own tables. {schema} is validated.
CREATE TABLE IF NOT EXISTS {schema}.bulkscan_chunk (
  run_key      VARCHAR(250) NOT NULL,
  chunk_index  INT          NOT NULL,
  job          VARCHAR(100) NOT NULL,
  source       VARCHAR(250) NOT NULL,
  lo           BIGINT       NOT NULL,
  hi           BIGINT       NOT NULL,
  planned_rows BIGINT       NULL,
  rows_scanned BIGINT       NOT NULL,
  groups_count BIGINT       NOT NULL,
  try_number   INT          NOT NULL,
  writes       INT          NOT NULL DEFAULT 1,
  seconds      DOUBLE       NOT NULL,
  summary      TEXT         NULL,
  updated_at   TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  PRIMARY KEY (run_key, chunk_index)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE IF NOT EXISTS {schema}.bulkscan_partial (
  run_key     VARCHAR(250)   NOT NULL,
  chunk_index INT            NOT NULL,
  group_key   VARCHAR(191)   NOT NULL,
  value_sum   DECIMAL(38, 6) NOT NULL,
  row_count   BIGINT         NOT NULL,
  PRIMARY KEY (run_key, chunk_index, group_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE IF NOT EXISTS {schema}.bulkscan_result (
  run_key   VARCHAR(250)   NOT NULL,
  group_key VARCHAR(191)   NOT NULL,
  value_sum DECIMAL(38, 6) NOT NULL,
  row_count BIGINT         NOT NULL,
  PRIMARY KEY (run_key, group_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE IF NOT EXISTS {schema}.bulkscan_run (
  run_key      VARCHAR(250)   NOT NULL PRIMARY KEY,
  job          VARCHAR(100)   NOT NULL,
  source       VARCHAR(250)   NOT NULL,
  chunks       INT            NOT NULL,
  rows_scanned BIGINT         NOT NULL,
  groups_count BIGINT         NOT NULL,
  value_sum    DECIMAL(38, 6) NULL,
  finished_at  TIMESTAMP(6)   NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
