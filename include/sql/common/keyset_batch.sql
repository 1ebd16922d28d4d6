-- One keyset batch of rows: strictly after the last key done, before the chunk's end. Never OFFSET.
SELECT {columns} FROM {table} WHERE {key} > %s AND {key} < %s AND {where} ORDER BY {key} LIMIT %s
