"""Airflow glue: the only package of bulkscan that imports Airflow."""
