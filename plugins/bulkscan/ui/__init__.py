"""bulkscan in the Airflow UI: a report tab on each run of a bulkscan DAG, and an overview (plugin)."""
