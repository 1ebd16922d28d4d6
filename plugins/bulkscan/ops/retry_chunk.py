"""Retry ONE mapped task instance (one chunk) of a DAG run through the Airflow REST API, or list a
run's failed chunks by their Grid labels first. Uses the official client (apache-airflow-client).

`airflow tasks clear` cannot target a single map index; the public API can:
POST /api/v2/dags/{dag_id}/clearTaskInstances with task_ids=[[task_id, map_index]]. By default only a
failed chunk is cleared, together with the downstream tasks that were upstream_failed because of it,
and the run is set back to queued so the scheduler picks the chunk up again. Nothing else reruns.

    python -m bulkscan.ops.retry_chunk --dag bulkscan_table_scan --run manual__2025-... \\
        --task scan_chunk --list                      # the failed chunks: index, label, try, worker
    python -m bulkscan.ops.retry_chunk --dag bulkscan_table_scan --run manual__2025-... \\
        --task scan_chunk --index 7 [--dry-run] [--any-state] [--no-downstream]

Login, for any auth manager: a token in BULKSCAN_API_TOKEN (or AIRFLOW_API_TOKEN), obtained the way
your auth manager issues them; else user and password through /auth/token (SimpleAuthManager, FAB):
--url/--user/--password-file or BULKSCAN_API_URL / BULKSCAN_API_USER / BULKSCAN_API_PASSWORD; by
default the loopback stack (http://127.0.0.1:28080, .airflow-stack/passwords.json).
Exit status: 0 cleared (or would clear, with --dry-run; or listed), 1 nothing matched / API error,
2 bad arguments.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass

from airflow_client import client
from airflow_client.client.api.task_instance_api import TaskInstanceApi
from airflow_client.client.exceptions import ApiException
from airflow_client.client.models.clear_task_instances_body import ClearTaskInstancesBody

from bulkscan.errors import BulkscanError, BulkscanInputError
from bulkscan.ops.api import AirflowApi, resolve_credentials


@dataclass(frozen=True)
class ChunkRef:
    """One mapped task instance of one DAG run."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int

    def __post_init__(self) -> None:
        for name in ("dag_id", "run_id", "task_id"):
            if not getattr(self, name).strip():
                raise BulkscanInputError(f"{name} must not be empty")
        if self.map_index < 0:
            raise BulkscanInputError(f"map index must be >= 0 (got {self.map_index}); -1 means not mapped")


FAILED = ("failed", "upstream_failed")


def clear_request(
    ref: ChunkRef,
    *,
    dry_run: bool = False,
    only_failed: bool = True,
    downstream: bool = True,
) -> ClearTaskInstancesBody:
    """The clearTaskInstances body that clears exactly this chunk (and its failed downstream)."""
    body = ClearTaskInstancesBody.from_dict(
        {
            "dry_run": dry_run,
            "dag_run_id": ref.run_id,
            "task_ids": [[ref.task_id, ref.map_index]],
            "only_failed": only_failed,
            "reset_dag_runs": True,
            "include_upstream": False,
            "include_downstream": downstream,
            "include_future": False,
            "include_past": False,
            "note": f"bulkscan retry-chunk: {ref.task_id}[{ref.map_index}]",
        }
    )
    assert body is not None  # from_dict returns None only for None
    return body


def api_client(args: argparse.Namespace, env: dict[str, str] | None = None) -> client.ApiClient:
    """The official client, logged in with a token from the environment or from user and password."""
    env = dict(os.environ) if env is None else env
    token = env.get("BULKSCAN_API_TOKEN") or env.get("AIRFLOW_API_TOKEN")
    url = args.url or env.get("BULKSCAN_API_URL")
    if not token:
        creds = resolve_credentials(url, args.user, password_file=args.password_file, env=env)
        token, url = AirflowApi(creds).token(), creds.url
    return client.ApiClient(
        client.Configuration(host=(url or "http://127.0.0.1:28080").rstrip("/"), access_token=token)
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bulkscan.ops.retry_chunk",
        description="Clear one mapped task instance (one chunk) of a DAG run so Airflow retries it.",
    )
    parser.add_argument("--dag", required=True, help="dag_id")
    parser.add_argument("--run", required=True, help="dag_run_id (as shown in the UI / API)")
    parser.add_argument("--task", required=True, help="task_id of the mapped task")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--index", type=int, help="map index of the chunk to clear (>= 0)")
    what.add_argument("--list", action="store_true", help="list the run's failed chunks of --task, then stop")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="show what would be cleared, change nothing",
    )
    parser.add_argument(
        "--any-state",
        action="store_true",
        help="clear the chunk even if it did not fail (e.g. to rerun it)",
    )
    parser.add_argument(
        "--no-downstream",
        action="store_true",
        help="do not clear downstream tasks that failed because of it",
    )
    parser.add_argument(
        "--url",
        help="API base url (default $BULKSCAN_API_URL or http://127.0.0.1:28080)",
    )
    parser.add_argument("--user", help="login user (default $BULKSCAN_API_USER or admin)")
    parser.add_argument(
        "--password-file",
        help="SimpleAuthManager passwords JSON (default: the stack's)",
    )
    return parser.parse_args(argv)


def list_failed(tis: TaskInstanceApi, dag_id: str, run_id: str, task_id: str) -> int:
    """The run's failed chunks of one task, by the labels the Grid shows."""
    found = tis.get_mapped_task_instances(dag_id, run_id, task_id, state=["failed"], limit=1000)
    rows = sorted(found.task_instances, key=lambda t: t.map_index)
    for t in rows:
        label = t.rendered_map_index or f"map index {t.map_index}"
        print(f"retry-chunk: {task_id}[{t.map_index}] {label!r} failed at try {t.try_number} on {t.hostname}")
    print(f"retry-chunk: {len(rows)} failed chunk(s) of {task_id} in {run_id}")
    return 0


def run(args: argparse.Namespace, api: client.ApiClient | None = None) -> int:
    ref = ChunkRef(args.dag, args.run, args.task, 0 if args.list else args.index)  # checked before any call
    tis = TaskInstanceApi(api or api_client(args))
    if args.list:
        return list_failed(tis, ref.dag_id, ref.run_id, ref.task_id)
    try:
        ti = tis.get_mapped_task_instance(ref.dag_id, ref.run_id, ref.task_id, ref.map_index)
    except ApiException as exc:
        if exc.status == 404:
            print(
                f"retry-chunk: no task instance {ref.task_id}[{ref.map_index}] in run {ref.run_id} of {ref.dag_id}",
                file=sys.stderr,
            )
            return 1
        raise
    state = ti.state.value if ti.state else None
    where = f"{ref.dag_id} / {ref.run_id} / {ref.task_id}[{ref.map_index}]"
    print(f"retry-chunk: {where} {ti.rendered_map_index!r} is {state}")
    if state not in FAILED and not args.any_state:
        # Not even sent: clearing with only_failed would still clear the failed downstream tasks
        # (summarize, upstream_failed) and reset the run, which re-fails at once.
        print(f"retry-chunk: nothing cleared: {ref.task_id}[{ref.map_index}] is {state}, not failed "
              "(--any-state reruns it anyway)", file=sys.stderr)  # fmt: skip
        return 1
    body = clear_request(ref, dry_run=args.dry_run, only_failed=not args.any_state, downstream=not args.no_downstream)
    cleared = tis.post_clear_task_instances(ref.dag_id, body).task_instances
    targets = [t for t in cleared if t.task_id == ref.task_id and t.map_index == ref.map_index]
    verb = "would clear" if args.dry_run else "cleared"
    for t in cleared:
        was = f" (was {t.state.value})" if t.state else ""
        print(f"retry-chunk: {verb} {t.task_id}[{t.map_index}]{was}")
    if not targets:
        hint = "" if args.any_state else " (only failed chunks are cleared; --any-state reruns it anyway)"
        print(f"retry-chunk: nothing cleared for {ref.task_id}[{ref.map_index}], state {state}{hint}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except BulkscanInputError as exc:
        print(f"retry-chunk: {exc}", file=sys.stderr)
        return 2
    except ApiException as exc:
        print(f"retry-chunk: the API answered {exc.status} {exc.reason}: {exc.body}", file=sys.stderr)
        return 1
    except (BulkscanError, OSError) as exc:
        print(f"retry-chunk: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
