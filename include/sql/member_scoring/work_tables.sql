-- Session-local work tables of one apply, in memory (hash keys): they hold one row per member the
-- day touches (about 60 bytes each), so the session's heap-table limit is raised for them only.
SET SESSION max_heap_table_size = 1073741824;
CREATE TEMPORARY TABLE sc_new (
  uid BIGINT NOT NULL, score_sum BIGINT NOT NULL, flows BIGINT NOT NULL, PRIMARY KEY (uid) USING HASH
) ENGINE=MEMORY;
CREATE TEMPORARY TABLE sc_aff (uid BIGINT NOT NULL, PRIMARY KEY (uid) USING HASH) ENGINE=MEMORY;
CREATE TEMPORARY TABLE sc_trans (
  uid        BIGINT  NOT NULL,
  prev_total BIGINT  NOT NULL,
  cur_total  BIGINT  NOT NULL,
  day_sum    BIGINT  NOT NULL,
  day_flows  BIGINT  NOT NULL,
  prev_rank  TINYINT NOT NULL DEFAULT 0,
  cur_rank   TINYINT NOT NULL DEFAULT 0,
  is_new     TINYINT NOT NULL DEFAULT 0,
  PRIMARY KEY (uid) USING HASH
) ENGINE=MEMORY
