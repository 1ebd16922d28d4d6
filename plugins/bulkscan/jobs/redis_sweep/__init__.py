"""The redis_sweep job: start from dags/ and read this folder (see docs/ for the design)."""
