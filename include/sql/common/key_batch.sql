-- One keyset batch of a composite or string key: strictly after the last key done, within the chunk.
SELECT {columns} FROM {table} WHERE {range} AND {where} ORDER BY {order} LIMIT %s
