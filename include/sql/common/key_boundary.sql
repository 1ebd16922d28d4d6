-- Walk the key index: the key of the (n+1)-th row at or after a key (gh-ost / pt-table-checksum style).
SELECT {key} FROM {table} WHERE {key} >= %s AND {key} < %s AND {where} ORDER BY {key} LIMIT 1 OFFSET %s
