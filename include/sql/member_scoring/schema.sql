-- Member scoring state. {db} is validated and quoted.
-- flow_day_sum: one row per member per day with activity (PK by day: a day is replaced as a block;
-- the (uid, day) index serves re-runs, which recompute only the members a late flow touched).
CREATE TABLE IF NOT EXISTS {db}.flow_day_sum (
  day       DATE   NOT NULL,
  uid       BIGINT NOT NULL,
  score_sum BIGINT NOT NULL,
  flows     INT    NOT NULL,
  PRIMARY KEY (day, uid),
  KEY idx_uid_day (uid, day)
) ENGINE=InnoDB;
-- member_score: every member with any activity up to the applied day; as_of_day is the last day the
-- member's window changed (a day of activity entering it, or one leaving it).
CREATE TABLE IF NOT EXISTS {db}.member_score (
  uid          BIGINT      NOT NULL,
  window_total BIGINT      NOT NULL,
  tier         VARCHAR(32) NOT NULL,
  as_of_day    DATE        NOT NULL,
  PRIMARY KEY (uid)
) ENGINE=InnoDB;
-- member_action: the outbox; the primary key makes each action at most once per day and member.
CREATE TABLE IF NOT EXISTS {db}.member_action (
  day       DATE                                         NOT NULL,
  uid       BIGINT                                       NOT NULL,
  action    ENUM('upgrade', 'downgrade', 'coupon', 'reward') NOT NULL,
  from_tier VARCHAR(32)                                  NOT NULL,
  to_tier   VARCHAR(32)                                  NOT NULL,
  detail    VARCHAR(255)                                 NOT NULL,
  PRIMARY KEY (day, uid, action),
  KEY idx_uid (uid)
) ENGINE=InnoDB;
-- scoring_ledger: one row per applied day, so the state can be explained.
CREATE TABLE IF NOT EXISTS {db}.scoring_ledger (
  day              DATE         NOT NULL,
  first_step       VARCHAR(16)  NOT NULL,
  last_step        VARCHAR(16)  NOT NULL,
  run_key          VARCHAR(250) NOT NULL,
  window_days      INT          NOT NULL,
  config_digest    CHAR(16)     NOT NULL,
  calendar         VARCHAR(100) NULL,
  flows            BIGINT       NOT NULL,
  members          BIGINT       NOT NULL,
  changed_members  BIGINT       NOT NULL,
  actions          BIGINT       NOT NULL,
  runs             INT          NOT NULL DEFAULT 1,
  first_applied_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  last_applied_at  TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (day)
) ENGINE=InnoDB;
-- A ledger from before business calendars: its days were cut as UTC days (see ledger_calendars.sql).
ALTER TABLE {db}.scoring_ledger ADD COLUMN IF NOT EXISTS calendar VARCHAR(100) NULL AFTER config_digest
;
-- flow_hour_sum: the hourly folds' per-member sums of one hour of a day not yet applied (hourly mode):
-- an hour folded again replaces its block, and flow_day_sum moves by the difference. Blocks of applied
-- days are pruned by the next fold (a re-run of an applied day re-reads the whole day).
CREATE TABLE IF NOT EXISTS {db}.flow_hour_sum (
  day        DATE   NOT NULL,
  hour_index TINYINT UNSIGNED NOT NULL,
  uid        BIGINT NOT NULL,
  score_sum  BIGINT NOT NULL,
  flows      INT    NOT NULL,
  PRIMARY KEY (day, hour_index, uid)
) ENGINE=InnoDB;
-- scoring_hour_ledger: one row per folded hour: its created_at bounds and the flows it was folded with
-- (the day's close re-counts every hour against it and folds again the ones that gained flows).
CREATE TABLE IF NOT EXISTS {db}.scoring_hour_ledger (
  day          DATE         NOT NULL,
  hour_index   TINYINT UNSIGNED NOT NULL,
  created_from DATETIME     NOT NULL,
  created_to   DATETIME     NOT NULL,
  label        VARCHAR(64)  NOT NULL,
  run_key      VARCHAR(250) NOT NULL,
  flows        BIGINT       NOT NULL,
  members      BIGINT       NOT NULL,
  runs         INT          NOT NULL DEFAULT 1,
  folded_by    VARCHAR(16)  NOT NULL,
  last_folded_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (day, hour_index)
) ENGINE=InnoDB
