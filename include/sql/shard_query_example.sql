-- An example per-shard query for bulkscan_shard_query's "Query file" param (copy it and edit).
-- Rules: one SELECT returning (group, value, count); {table} and {range} are filled in by bulkscan
-- (the shard table, quoted, only after it matched the topology; the item's key range, or 1=1 for a
-- whole shard); every other value is a %(name)s parameter from "Query parameters". Write a literal % as %%.
SELECT grp, SUM(amount), COUNT(*)
FROM {table}
WHERE {range} AND amount >= %(min_amount)s
GROUP BY grp
