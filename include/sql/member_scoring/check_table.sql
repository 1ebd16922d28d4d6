-- verify: a rebuild into a session table, compared with member_score.
CREATE TEMPORARY TABLE sc_check (uid BIGINT NOT NULL PRIMARY KEY, window_total BIGINT NOT NULL,
  tier VARCHAR(32) NOT NULL, as_of_day DATE NOT NULL) ENGINE=InnoDB
