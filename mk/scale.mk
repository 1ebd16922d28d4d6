# Planning at 10^7 and 10^8 rows side by side, and a 10^8-row scan (issue 14). bench/bench_scale.py.
# A dedicated MariaDB on 127.0.0.1:3326 (/tmp/bulkscan-scale-3326, 8 GB buffer pool) holds the two
# tables, built once (about 2.5 minutes and 3.9 GB) and reused; `make bench-down` stops it.
.PHONY: bench-scale
bench-scale: services
	@$(ENV) python bench/bench_scale.py $(BENCH_ARGS)
