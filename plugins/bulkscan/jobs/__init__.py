"""One folder per job: its settings and rules (pure), its I/O, its trigger form and task bodies."""
