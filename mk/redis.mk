# Redis Cluster sweep (issue 4): benchmark on a local 6-node cluster on ports 7201-7206.
.PHONY: bench-redis bench-redis-stop test-redis

bench-redis: venv
	@$(ENV) AIRFLOW_HOME=$(ROOT)/.airflow-redis-bench scripts/airflow_db.sh && \
	  AIRFLOW_HOME=$(ROOT)/.airflow-redis-bench python bench/bench_redis.py $(BENCH_ARGS)

bench-redis-stop: venv
	@$(ENV) python bench/bench_redis.py --stop

test-redis: venv
	@$(ENV) AIRFLOW_HOME=$(ROOT)/.airflow-redis scripts/airflow_db.sh && \
	  AIRFLOW_HOME=$(ROOT)/.airflow-redis python -m pytest tests/redis_sweep $(PYTEST_ARGS)
