-- Tier ranks of the transitions; {prev_rank} / {cur_rank} are CASE expressions bulkscan builds from
-- the validated integer thresholds (a rank is the tier's index, 0 = the floor tier).
UPDATE sc_trans SET prev_rank = {prev_rank}, cur_rank = {cur_rank}
