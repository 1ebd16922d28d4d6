"""retry_chunk: argument handling, the exact clearTaskInstances request, login and exit codes.

The HTTP side is exercised for real against a tiny loopback server that records what it receives and
answers like the Airflow API (the full stack is covered by tests/stack).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from bulkscan.errors import BulkscanInputError
from bulkscan.ops import retry_chunk
from bulkscan.ops.api import resolve_credentials
from bulkscan.ops.retry_chunk import ChunkRef, clear_request, task_instance_path

RUN_ID = "manual__2026-01-02T03:04:05.678+00:00"


def test_clear_request_targets_one_map_index() -> None:
    path, body = clear_request(ChunkRef("bulkscan_table_scan", RUN_ID, "scan_chunk", 7))
    assert path == "/dags/bulkscan_table_scan/clearTaskInstances"
    assert body["task_ids"] == [["scan_chunk", 7]]
    assert body["dag_run_id"] == RUN_ID
    assert body["dry_run"] is False  # the API defaults to a dry run: it must be switched off explicitly
    assert body["only_failed"] is True and body["include_downstream"] is True and body["reset_dag_runs"] is True
    assert not (body["include_upstream"] or body["include_past"] or body["include_future"])
    assert "start_date" not in body and "end_date" not in body  # the API refuses them with dag_run_id


def test_clear_request_options() -> None:
    _, body = clear_request(ChunkRef("d", "r", "t", 0), dry_run=True, only_failed=False, downstream=False)
    assert (body["dry_run"], body["only_failed"], body["include_downstream"]) == (True, False, False)


def test_run_id_is_one_quoted_path_segment() -> None:
    path = task_instance_path(ChunkRef("d", "scheduled__2026-01-01T00:00:00+00:00", "t", 3))
    assert path == "/dags/d/dagRuns/scheduled__2026-01-01T00%3A00%3A00%2B00%3A00/taskInstances/t/3"


@pytest.mark.parametrize(
    "ref",
    [("d", "r", "t", -1), ("", "r", "t", 0), ("d", " ", "t", 0), ("d", "r", "", 0)],
)
def test_bad_chunk_reference_is_refused(ref: tuple[str, str, str, int]) -> None:
    with pytest.raises(BulkscanInputError):
        ChunkRef(*ref)


def test_arguments_are_required_and_typed(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as missing:
        retry_chunk.parse_args(["--dag", "d", "--run", "r", "--task", "t"])
    assert missing.value.code == 2 and "--index" in capsys.readouterr().err
    with pytest.raises(SystemExit) as not_int:
        retry_chunk.parse_args(["--dag", "d", "--run", "r", "--task", "t", "--index", "seven"])
    assert not_int.value.code == 2
    args = retry_chunk.parse_args(["--dag", "d", "--run", "r", "--task", "t", "--index", "4", "--dry-run"])
    assert (args.dag, args.run, args.task, args.index, args.dry_run, args.any_state) == (
        "d",
        "r",
        "t",
        4,
        True,
        False,
    )


def test_credentials_precedence(tmp_path: Path) -> None:
    pw = tmp_path / "passwords.json"
    pw.write_text(json.dumps({"admin": "from-file", "ops": "ops-file"}))
    env = {"BULKSCAN_API_PASSWORD_FILE": str(pw)}
    assert resolve_credentials(env=env).password == "from-file"
    assert resolve_credentials(user="ops", env=env).password == "ops-file"
    env["BULKSCAN_API_PASSWORD"] = "from-env"
    creds = resolve_credentials(url="http://127.0.0.1:9/", env=env)
    assert (creds.url, creds.user, creds.password) == ("http://127.0.0.1:9", "admin", "from-env")
    assert "from-env" not in repr(creds)
    with pytest.raises(BulkscanInputError, match="not in the password file"):
        resolve_credentials(user="nobody", env={"BULKSCAN_API_PASSWORD_FILE": str(pw)})
    with pytest.raises(BulkscanInputError, match="no password"):
        resolve_credentials(env={"BULKSCAN_API_PASSWORD_FILE": str(tmp_path / "missing.json")})
    with pytest.raises(BulkscanInputError, match="http"):
        resolve_credentials(url="file:///etc/passwd", env={"BULKSCAN_API_PASSWORD": "x"})


class FakeAirflow(BaseHTTPRequestHandler):
    """Answers /auth/token, one task instance GET and clearTaskInstances; records every request."""

    requests: ClassVar[list[tuple[str, str, dict[str, str], Any]]] = []
    ti_state = "failed"

    def _reply(self, status: int, body: Any) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _record(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.requests.append((self.command, self.path, dict(self.headers), body))
        return body

    def do_POST(self) -> None:
        body = self._record()
        if self.path == "/auth/token":
            ok = body == {"username": "admin", "password": "s3cret"}
            self._reply(201 if ok else 401, {"access_token": "tok-123"} if ok else {"detail": "Invalid credentials"})
        elif self.path.endswith("/clearTaskInstances"):
            if self.headers.get("Authorization") != "Bearer tok-123":
                self._reply(401, {"detail": "Not authenticated"})
                return
            task_id, index = body["task_ids"][0]
            hit = self.ti_state == "failed" or not body["only_failed"]
            tis = [{"task_id": task_id, "map_index": index, "state": self.ti_state}] if hit else []
            self._reply(200, {"task_instances": tis, "total_entries": len(tis)})
        else:
            self._reply(404, {"detail": "Not Found"})

    def do_GET(self) -> None:
        self._record()
        if "/taskInstances/scan_chunk/" in self.path and self.path.endswith("/7"):
            self._reply(200, {"task_id": "scan_chunk", "map_index": 7, "state": self.ti_state})
        else:
            self._reply(404, {"detail": "The Task Instance was not found"})

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    FakeAirflow.requests = []
    FakeAirflow.ti_state = "failed"
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeAirflow)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    monkeypatch.setenv("BULKSCAN_API_URL", url)
    monkeypatch.setenv("BULKSCAN_API_USER", "admin")
    monkeypatch.setenv("BULKSCAN_API_PASSWORD", "s3cret")
    yield url
    httpd.shutdown()


ARGS = ["--dag", "bulkscan_table_scan", "--run", RUN_ID, "--task", "scan_chunk"]


def test_clears_the_failed_chunk(server: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert retry_chunk.main([*ARGS, "--index", "7"]) == 0
    login, get, post = FakeAirflow.requests
    assert login[:2] == ("POST", "/auth/token")
    assert get[1] == (
        "/api/v2/dags/bulkscan_table_scan/dagRuns/manual__2026-01-02T03%3A04%3A05.678%2B00%3A00"
        "/taskInstances/scan_chunk/7"
    )
    assert post[1] == "/api/v2/dags/bulkscan_table_scan/clearTaskInstances"
    assert post[2]["Authorization"] == "Bearer tok-123"
    assert post[3] == clear_request(ChunkRef("bulkscan_table_scan", RUN_ID, "scan_chunk", 7))[1]
    assert "cleared scan_chunk[7]" in capsys.readouterr().out


def test_a_chunk_that_did_not_fail_is_not_cleared(server: str, capsys: pytest.CaptureFixture[str]) -> None:
    FakeAirflow.ti_state = "success"
    assert retry_chunk.main([*ARGS, "--index", "7"]) == 1
    assert "--any-state" in capsys.readouterr().err
    assert retry_chunk.main([*ARGS, "--index", "7", "--any-state"]) == 0
    assert FakeAirflow.requests[-1][3]["only_failed"] is False


def test_unknown_chunk_and_bad_login_are_clear_errors(
    server: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert retry_chunk.main([*ARGS, "--index", "8"]) == 1
    assert "no task instance scan_chunk[8]" in capsys.readouterr().err
    assert not [r for r in FakeAirflow.requests if r[1].endswith("clearTaskInstances")]
    monkeypatch.setenv("BULKSCAN_API_PASSWORD", "wrong")
    assert retry_chunk.main([*ARGS, "--index", "7"]) == 1
    assert "HTTP 401" in capsys.readouterr().err
    assert retry_chunk.main([*ARGS, "--index", "-3"]) == 2
