# Per-shard fan-out across MySQL hosts (issue 3). See docs/shard-query.md.
# bench-shards starts a second MariaDB on 127.0.0.1:3307 (scripts/mysql2.sh) and creates its data once.
.PHONY: bench-shards mysql2-up mysql2-down test-shards
SHARDS_AIRFLOW_HOME ?= $(ROOT)/.airflow

bench-shards: services
	@$(ENV) AIRFLOW_HOME=$(SHARDS_AIRFLOW_HOME) scripts/airflow_db.sh && \
	  AIRFLOW_HOME=$(SHARDS_AIRFLOW_HOME) python bench/bench_shards.py $(BENCH_ARGS)

mysql2-up:
	@scripts/mysql2.sh start

mysql2-down:
	@scripts/mysql2.sh stop

test-shards: services
	@$(ENV) AIRFLOW_HOME=$(ROOT)/.airflow-shards scripts/airflow_db.sh && \
	  AIRFLOW_HOME=$(ROOT)/.airflow-shards python -m pytest tests/shard_query $(PYTEST_ARGS)
