"""Demo data and the `make demo` driver."""
