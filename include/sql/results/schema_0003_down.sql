-- Back to revision 0002: the merge groups in a temporary table again (results/result_merge needs 0003).
ALTER TABLE {schema}.bulkscan_partial DROP INDEX IF EXISTS by_group;
