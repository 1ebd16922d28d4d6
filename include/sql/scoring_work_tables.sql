-- Session-local work tables of one apply. {prev_rank} / {cur_rank} are CASE expressions bulkscan
-- builds from the validated integer thresholds (a rank is the tier's index, 0 = floor tier).
CREATE TEMPORARY TABLE sc_new (
  uid BIGINT NOT NULL PRIMARY KEY, score_sum BIGINT NOT NULL, flows BIGINT NOT NULL
) ENGINE=InnoDB;
CREATE TEMPORARY TABLE sc_aff (uid BIGINT NOT NULL PRIMARY KEY) ENGINE=InnoDB;
CREATE TEMPORARY TABLE sc_trans (
  uid        BIGINT NOT NULL PRIMARY KEY,
  prev_total BIGINT NOT NULL,
  cur_total  BIGINT NOT NULL,
  day_sum    BIGINT NOT NULL,
  day_flows  BIGINT NOT NULL,
  prev_rank  TINYINT AS ({prev_rank}) VIRTUAL,
  cur_rank   TINYINT AS ({cur_rank}) VIRTUAL
) ENGINE=InnoDB
