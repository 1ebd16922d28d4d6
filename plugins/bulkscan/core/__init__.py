"""Shared pure code (no I/O, no Airflow): what every job's rules build on."""
