"""Shared Redis I/O (no Airflow): node discovery, per-node SCAN + page script, mop-up, audit files."""
