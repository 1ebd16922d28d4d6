-- The hour's per-member sums while it is folded (session-local, in memory, like the apply's tables).
DROP TEMPORARY TABLE IF EXISTS sc_hour;
CREATE TEMPORARY TABLE sc_hour (
  uid BIGINT NOT NULL, score_sum BIGINT NOT NULL, flows BIGINT NOT NULL, PRIMARY KEY (uid) USING HASH
) ENGINE=MEMORY
