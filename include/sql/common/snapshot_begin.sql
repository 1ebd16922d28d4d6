-- One read-only consistent snapshot for one batch and its count (REPEATABLE READ is set first): both see
-- the same rows whatever is written meanwhile; committed right after, so no lock or history is held long.
START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY
