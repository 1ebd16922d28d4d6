# `make soak`: the fault scenarios of issue 6 in a loop on the loopback stack (bench/soak.py), bounded by
# BULKSCAN_SOAK_SECONDS (default 600). Last line: BENCH faults scenarios=<n> runs=<n> lost=<n> doubled=<n> ...
.PHONY: soak

soak: services
	@$(ENV) python bench/soak.py
