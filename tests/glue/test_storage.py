"""Which audit store a task uses: the Param, else the Airflow Variable, else this machine's disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulkscan.errors import BulkscanInputError
from bulkscan.glue.storage import audit_store
from bulkscan.jobs.redis_sweep.settings import SweepSettings

pytestmark = pytest.mark.unit


def test_param_wins_then_variable_then_airflow_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AIRFLOW_VAR_BULKSCAN_AUDIT_STORE", raising=False)
    assert str(audit_store(None, "redis-sweep")) == f"file://{tmp_path}/home/bulkscan-audit/redis-sweep"
    monkeypatch.setenv("AIRFLOW_VAR_BULKSCAN_AUDIT_STORE", f"file://{tmp_path}/shared/")
    assert str(audit_store(None, "member-scoring")) == f"file://{tmp_path}/shared/member-scoring"
    assert str(audit_store(f"{tmp_path}/mine", "redis-sweep")) == f"file://{tmp_path}/mine"  # as given


def test_a_store_that_cannot_be_opened_is_refused_by_name() -> None:
    with pytest.raises(BulkscanInputError, match="nosuchfs://bucket/x"):
        audit_store("nosuchfs://bucket/x", "redis-sweep")


@pytest.mark.parametrize("bad", ["relative/dir", "s3:/one-slash", 7])
def test_the_param_must_be_an_absolute_path_or_a_url(bad: object) -> None:
    with pytest.raises(BulkscanInputError, match=r"audit_store .*expected an absolute path or a URL"):
        SweepSettings.from_params({"redis_conn_id": "r", "audit_store": bad})
