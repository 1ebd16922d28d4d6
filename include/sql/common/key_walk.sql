-- Walk a composite or string key's index: the n-th and (n+1)-th key at or after a key (the chunk's
-- last key and the next chunk's first). {range} is the expanded tuple comparison (never a row
-- constructor, which MariaDB cannot use as an index range).
SELECT {keys} FROM {table} WHERE {range} AND {where} ORDER BY {order} LIMIT 2 OFFSET %s
