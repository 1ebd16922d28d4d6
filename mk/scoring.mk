# Member scoring (issue 5). See docs/member-scoring.md.
.PHONY: bench-scoring test-scoring

# Full scale by default (1M members, 1M flows a day, 30 days); data sets are created once on a
# dedicated loopback MariaDB (port 3316, /tmp/bulkscan-scoring-bench-3316) and reused.
# Smaller: make bench-scoring BENCH_ARGS='--members 100000 --flows-per-day 100000'
bench-scoring: services
	@$(ENV) AIRFLOW_HOME=$(ROOT)/.airflow-scoring-bench scripts/airflow_db.sh && \
	  AIRFLOW_HOME=$(ROOT)/.airflow-scoring-bench python bench/bench_scoring.py $(BENCH_ARGS)

test-scoring: services
	@$(ENV) AIRFLOW_HOME=$(ROOT)/.airflow-scoring scripts/airflow_db.sh && \
	  AIRFLOW_HOME=$(ROOT)/.airflow-scoring python -m pytest tests/member_scoring $(PYTEST_ARGS)
