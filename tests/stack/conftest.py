"""The `stack` tier: tests that start the real loopback CeleryExecutor stack (minutes, many processes).

They run only when asked for (`make test-stack`, `pytest -m stack`, or BULKSCAN_STACK_TESTS=1), so
`make test` stays fast; the stack is always stopped again at the end.
"""

from __future__ import annotations

import os

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "stack: starts the loopback CeleryExecutor Airflow stack (make test-stack)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    asked = "stack" in (config.getoption("markexpr") or "") or os.environ.get("BULKSCAN_STACK_TESTS") == "1"
    if asked:
        return
    skip = pytest.mark.skip(reason="starts the whole Airflow stack: run `make test-stack`")
    for item in items:
        if "stack" in item.keywords:
            item.add_marker(skip)
