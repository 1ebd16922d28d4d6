-- Rows of one keyset batch's key range, counted in the batch's own snapshot: after the last key done,
-- up to the batch's last key ({upper} is <=) or, for the chunk's last batch, to the chunk's end (<).
SELECT COUNT(*) FROM {table} WHERE {key} > %s AND {key} {upper} %s AND {where}
