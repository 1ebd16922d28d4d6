"""The Arrow readers' connection (bulkscan.glue.connections.connectorx_uri) from an Airflow connection:
what it carries over, and the extras it refuses instead of silently dropping."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from bulkscan.errors import BulkscanInputError
from bulkscan.glue.connections import connectorx_uri


def _define(monkeypatch: pytest.MonkeyPatch, conn_id: str, extra: dict[str, object]) -> None:
    conn = {
        "conn_type": "mysql",
        "host": "db.example",
        "port": 3307,
        "login": "scan er",
        "password": "p@ss:/word",
        "schema": "shop",
        "extra": extra,
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def test_host_port_login_and_schema_carry_over_quoted(monkeypatch: pytest.MonkeyPatch) -> None:
    _define(monkeypatch, "bs_cx_plain", {"charset": "utf8mb4"})
    u = urlsplit(connectorx_uri("bs_cx_plain", "other_db"))
    assert (u.scheme, u.hostname, u.port, u.path) == ("mysql", "db.example", 3307, "/other_db")
    assert (u.username, u.password) == ("scan%20er", "p%40ss%3A%2Fword")


@pytest.mark.parametrize(
    "extra,named",
    [
        ({"ssl": {"ca": "/etc/ssl/ca.pem"}}, "ssl"),
        ({"ssl": json.dumps({"ca": "/etc/ssl/ca.pem"})}, "ssl"),
        ({"ssl_mode": "REQUIRED"}, "ssl_mode"),
        ({"unix_socket": "/run/mysqld/mysqld.sock"}, "unix_socket"),
    ],
)
def test_tls_or_a_socket_is_refused_not_dropped(
    monkeypatch: pytest.MonkeyPatch, extra: dict[str, object], named: str
) -> None:
    _define(monkeypatch, "bs_cx_tls", extra)
    with pytest.raises(BulkscanInputError, match=rf"'bs_cx_tls' sets {named} in its extras.*TLS would silently"):
        connectorx_uri("bs_cx_tls")


def test_tls_switched_off_is_not_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    _define(monkeypatch, "bs_cx_off", {"ssl_mode": "DISABLED"})
    assert urlsplit(connectorx_uri("bs_cx_off")).hostname == "db.example"
