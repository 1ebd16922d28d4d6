"""A small client of the Airflow 3 public REST API (stdlib only), for operator commands and tests.

It logs in like a person does with the SimpleAuthManager (POST /auth/token with user and password)
and sends the JWT as a bearer token; it never needs auth to be disabled.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bulkscan.errors import BulkscanError, BulkscanInputError

DEFAULT_URL = "http://127.0.0.1:28080"
_STACK_HOME = os.environ.get("BULKSCAN_STACK_HOME") or Path(__file__).resolve().parents[3] / ".airflow-stack"
DEFAULT_PASSWORD_FILE = Path(_STACK_HOME) / "passwords.json"


class ApiError(BulkscanError):
    """The API answered with an error status (the body says why)."""

    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        super().__init__(f"{method} {path} -> HTTP {status}: {body[:500]}")
        self.status = status
        self.body = body


@dataclass(frozen=True)
class Credentials:
    """Where the API is and who logs in."""

    url: str
    user: str
    password: str = field(repr=False)


def resolve_credentials(
    url: str | None = None,
    user: str | None = None,
    password: str | None = None,
    password_file: str | None = None,
    env: dict[str, str] | None = None,
) -> Credentials:
    """Explicit values first, then BULKSCAN_API_* variables, then the loopback stack's password file.

    The password file is the SimpleAuthManager's JSON ({"user": "password"}), so the same command
    works against the loopback stack and against docker-compose (with BULKSCAN_API_PASSWORD).
    """
    env = dict(os.environ) if env is None else env
    url = url or env.get("BULKSCAN_API_URL") or DEFAULT_URL
    user = user or env.get("BULKSCAN_API_USER") or env.get("AIRFLOW_ADMIN_USER") or "admin"
    password = password or env.get("BULKSCAN_API_PASSWORD")
    if not password:
        path = Path(password_file or env.get("BULKSCAN_API_PASSWORD_FILE") or DEFAULT_PASSWORD_FILE)
        try:
            password = json.loads(path.read_text())[user]
        except FileNotFoundError:
            raise BulkscanInputError(
                f"no password: set BULKSCAN_API_PASSWORD or pass --password-file ({path} does not exist)"
            ) from None
        except KeyError:
            raise BulkscanInputError(f"user {user!r} is not in the password file {path}") from None
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BulkscanInputError(f"API url must be http(s)://host:port, got {url!r}")
    return Credentials(url=url.rstrip("/"), user=user, password=str(password))


class AirflowApi:
    """Bearer-token JSON calls to /api/v2 (the token is fetched once, on first use)."""

    def __init__(self, creds: Credentials, timeout: float = 30.0) -> None:
        self.creds = creds
        self.timeout = timeout
        self._token: str | None = None

    def _send(self, method: str, path: str, body: Any = None, auth: bool = True) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.creds.url + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if auth:
            req.add_header("Authorization", f"Bearer {self.token()}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raise ApiError(method, path, exc.code, exc.read().decode(errors="replace")) from None
        return json.loads(raw) if raw else None

    def token(self) -> str:
        if self._token is None:
            answer = self._send(
                "POST",
                "/auth/token",
                {"username": self.creds.user, "password": self.creds.password},
                auth=False,
            )
            self._token = str(answer["access_token"])
        return self._token

    def get(self, path: str, **query: Any) -> Any:
        qs = urllib.parse.urlencode(query, doseq=True)
        return self._send("GET", f"/api/v2{path}" + (f"?{qs}" if qs else ""))

    def post(self, path: str, body: Any) -> Any:
        return self._send("POST", f"/api/v2{path}", body)

    def patch(self, path: str, body: Any) -> Any:
        return self._send("PATCH", f"/api/v2{path}", body)

    def delete(self, path: str) -> Any:
        return self._send("DELETE", f"/api/v2{path}")


def quote(part: str) -> str:
    """One URL path segment (run ids contain ':' and '+')."""
    return urllib.parse.quote(part, safe="")
