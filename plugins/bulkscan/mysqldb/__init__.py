"""Shared MySQL I/O (no Airflow): connections and transactions, validation, planning, scanning, slots, results."""
