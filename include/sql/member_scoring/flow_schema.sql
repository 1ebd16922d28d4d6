-- Source flows of member scoring: the auto-increment key is what chunks split; the created_at
-- index gives a day's id bounds without touching the rows. {db} is validated and quoted.
CREATE TABLE IF NOT EXISTS {db}.t_flow (
  id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  uid        BIGINT          NOT NULL,
  score      INT             NOT NULL,
  created_at DATETIME        NOT NULL,
  PRIMARY KEY (id),
  KEY idx_created_at (created_at)
) ENGINE=InnoDB
