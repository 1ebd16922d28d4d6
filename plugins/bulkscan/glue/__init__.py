"""Airflow glue shared by every job: default_args, Param factories, connection factories (with each
job's form and task modules, the only code that imports Airflow)."""
