-- Row count and key bounds of the rows a scan will cover.
SELECT COUNT(*), MIN({key}), MAX({key}) FROM {table} WHERE {where}
