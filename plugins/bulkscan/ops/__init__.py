"""Operator tools for running bulkscan on a deployed Airflow (REST API clients, stack helpers)."""
