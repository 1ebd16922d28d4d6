-- Key bounds only (both ends of the key index: instant), for unfiltered plans that skip COUNT(*).
SELECT MIN({key}), MAX({key}) FROM {table}
