"""retry_chunk: argument handling, the exact clearTaskInstances request, login and exit codes.

The HTTP side (the official apache-airflow-client against the real api-server: list the failed chunks,
dry run, clear one) is tested on the loopback stack (tests/stack/test_celery_stack.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bulkscan.errors import BulkscanInputError
from bulkscan.ops import retry_chunk
from bulkscan.ops.api import resolve_credentials
from bulkscan.ops.retry_chunk import ChunkRef, clear_request

RUN_ID = "manual__2026-01-02T03:04:05.678+00:00"


def test_clear_request_targets_one_map_index() -> None:
    body = clear_request(ChunkRef("bulkscan_table_scan", RUN_ID, "scan_chunk", 7)).to_dict()
    assert body["task_ids"] == [["scan_chunk", 7]]
    assert body["dag_run_id"] == RUN_ID
    assert body["dry_run"] is False  # the API defaults to a dry run: it must be switched off explicitly
    assert body["only_failed"] is True and body["include_downstream"] is True and body["reset_dag_runs"] is True
    assert not (body["include_upstream"] or body["include_past"] or body["include_future"])
    assert "start_date" not in body and "end_date" not in body  # the API refuses them with dag_run_id


def test_clear_request_options() -> None:
    body = clear_request(ChunkRef("d", "r", "t", 0), dry_run=True, only_failed=False, downstream=False).to_dict()
    assert (body["dry_run"], body["only_failed"], body["include_downstream"]) == (True, False, False)


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


def test_a_token_from_the_environment_is_used_as_is_no_login() -> None:
    """Any auth manager: the operator brings a token; nothing is posted to /auth/token (there is no
    server at this url at all, and building the client must not need one)."""
    args = retry_chunk.parse_args([*ARGS, "--list", "--url", "http://127.0.0.1:9"])
    api = retry_chunk.api_client(args, env={"BULKSCAN_API_TOKEN": "tok-from-env"})
    assert (api.configuration.host, api.configuration.access_token) == ("http://127.0.0.1:9", "tok-from-env")
    assert retry_chunk.api_client(args, env={"AIRFLOW_API_TOKEN": "t2"}).configuration.access_token == "t2"


def test_list_and_index_are_one_or_the_other(capsys: pytest.CaptureFixture[str]) -> None:
    assert retry_chunk.parse_args([*ARGS, "--list"]).list is True
    for bad in ([*ARGS], [*ARGS, "--list", "--index", "3"]):
        with pytest.raises(SystemExit) as exc:
            retry_chunk.parse_args(bad)
        assert exc.value.code == 2
    assert "--index" in capsys.readouterr().err


def test_a_negative_index_is_bad_input_exit_2() -> None:
    assert retry_chunk.main([*ARGS, "--index", "-3", "--url", "http://127.0.0.1:9"]) == 2


ARGS = ["--dag", "bulkscan_table_scan", "--run", RUN_ID, "--task", "scan_chunk"]
