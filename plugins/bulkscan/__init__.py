"""bulkscan: fast, safe, retryable bulk jobs over MySQL and Redis as dynamically mapped Airflow tasks.

Layout: one folder per job under `jobs/` (settings, rules, I/O and task bodies of that job), and the
parts every job shares: `core/` (pure Python, no I/O), `mysqldb/` and `redisnodes/` (talk to servers,
not to Airflow), `glue/` (Airflow: default_args, Param factories, connections). The import rules are
contracts checked by `make lint` (pyproject.toml, [tool.importlinter]).
"""

from __future__ import annotations

__version__ = "0.1.0"
