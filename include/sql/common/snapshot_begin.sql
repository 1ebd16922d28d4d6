-- One read-only consistent snapshot for a whole chunk scan (REPEATABLE READ is set first): every batch
-- and the chunk's closing COUNT(*) see the same rows, whatever is written meanwhile.
START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY
