"""Redis I/O of the sweep (no Airflow): node discovery, per-node SCAN + page script, mop-up, audit files."""
