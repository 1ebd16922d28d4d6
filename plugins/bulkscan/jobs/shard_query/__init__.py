"""The shard_query job: start from dags/ and read this folder (see docs/ for the design)."""
