"""The `stack` tier: tests that start the real loopback CeleryExecutor stack (minutes, many processes).

They run only when asked for (`make test-stack`, `pytest -m stack`, or BULKSCAN_STACK_TESTS=1), so
`make test` stays fast; the stack is always stopped again at the end.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from bulkscan.ops.api import AirflowApi
from tests.stack import stackctl


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


@pytest.fixture(scope="session")
def api() -> Iterator[AirflowApi]:
    """The loopback stack, started ONCE per session for every stack test, and stopped afterwards.

    BULKSCAN_STACK_REUSE=1 (while writing tests): use an already running stack and leave it running.
    """
    if os.environ.get("BULKSCAN_STACK_REUSE") == "1":
        yield stackctl.api_client()
        return
    try:
        client = stackctl.start()
    except RuntimeError as exc:
        stackctl.stop()
        pytest.fail(str(exc))
    try:
        yield client
    finally:
        stackctl.stop()
