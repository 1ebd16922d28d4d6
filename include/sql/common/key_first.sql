-- First (or, ordered DESC, last) key of a composite or string key, in the unique index's own order.
SELECT {keys} FROM {table} WHERE {where} ORDER BY {order} LIMIT 1
