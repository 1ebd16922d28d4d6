# The loopback CeleryExecutor stack (issue 6) and the one-chunk retry command. See docs/deployment.md.
.PHONY: stack-up stack-down stack-status retry-chunk test-stack bench-stack

stack-up: services
	@$(ENV) scripts/airflow_stack.sh start

stack-down:
	@scripts/airflow_stack.sh stop

stack-status:
	@scripts/airflow_stack.sh status

# make retry-chunk DAG=bulkscan_table_scan RUN='manual__2025-...' TASK=scan_chunk LIST=1   (the failed chunks)
# make retry-chunk DAG=bulkscan_table_scan RUN='manual__2025-...' TASK=scan_chunk INDEX=7 [ARGS=--dry-run]
retry-chunk: venv
	@if [ -z "$(DAG)" ] || [ -z "$(RUN)" ] || [ -z "$(TASK)" ] || [ -z "$(INDEX)$(LIST)" ]; then \
	  echo "usage: make retry-chunk DAG=<dag_id> RUN=<dag_run_id> TASK=<task_id> (LIST=1 | INDEX=<map_index>) [ARGS='--dry-run']" >&2; \
	  exit 2; fi
	@$(ENV) python -m bulkscan.ops.retry_chunk --dag '$(DAG)' --run '$(RUN)' --task '$(TASK)' \
	  $(if $(LIST),--list,--index '$(INDEX)') $(ARGS)

# Starts and stops its own stack (several minutes); not part of `make test`.
test-stack: services
	@$(ENV) AIRFLOW_HOME=$(ROOT)/.airflow-stack python -m pytest tests/stack -m stack $(PYTEST_ARGS)

# The DAGs through the real scheduler against their peers (bench/bench_stack.py; starts and stops the
# stack, reuses bench-scan's, bench-shards' and bench-redis' data). Last line: BENCH stack ...
bench-stack: services
	@$(ENV) AIRFLOW_HOME=$(ROOT)/.airflow-stack python bench/bench_stack.py $(BENCH_ARGS)
