"""Retry ONE mapped task instance (one chunk) of a DAG run through the Airflow REST API.

`airflow tasks clear` cannot target a single map index; the public API can:
POST /api/v2/dags/{dag_id}/clearTaskInstances with task_ids=[[task_id, map_index]]. By default only a
failed chunk is cleared, together with the downstream tasks that were upstream_failed because of it,
and the run is set back to queued so the scheduler picks the chunk up again. Nothing else reruns.

    python -m bulkscan.ops.retry_chunk --dag bulkscan_table_scan --run manual__2025-... \\
        --task scan_chunk --index 7 [--dry-run] [--any-state] [--no-downstream]

Login: --url/--user/--password-file or BULKSCAN_API_URL / BULKSCAN_API_USER / BULKSCAN_API_PASSWORD;
by default the loopback stack (http://127.0.0.1:28080, .airflow-stack/passwords.json).
Exit status: 0 cleared (or would clear, with --dry-run), 1 nothing matched / API error, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any

from bulkscan.errors import BulkscanError, BulkscanInputError
from bulkscan.ops.api import AirflowApi, ApiError, quote, resolve_credentials


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


def clear_request(
    ref: ChunkRef,
    *,
    dry_run: bool = False,
    only_failed: bool = True,
    downstream: bool = True,
) -> tuple[str, dict[str, Any]]:
    """The API path and JSON body that clear exactly this chunk (and its failed downstream)."""
    body: dict[str, Any] = {
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
    return f"/dags/{quote(ref.dag_id)}/clearTaskInstances", body


def task_instance_path(ref: ChunkRef) -> str:
    return f"/dags/{quote(ref.dag_id)}/dagRuns/{quote(ref.run_id)}/taskInstances/{quote(ref.task_id)}/{ref.map_index}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bulkscan.ops.retry_chunk",
        description="Clear one mapped task instance (one chunk) of a DAG run so Airflow retries it.",
    )
    parser.add_argument("--dag", required=True, help="dag_id")
    parser.add_argument("--run", required=True, help="dag_run_id (as shown in the UI / API)")
    parser.add_argument("--task", required=True, help="task_id of the mapped task")
    parser.add_argument("--index", required=True, type=int, help="map index of the chunk (>= 0)")
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


def run(args: argparse.Namespace, api: AirflowApi | None = None) -> int:
    ref = ChunkRef(args.dag, args.run, args.task, args.index)
    if api is None:
        api = AirflowApi(resolve_credentials(args.url, args.user, password_file=args.password_file))
    try:
        ti = api.get(task_instance_path(ref))
    except ApiError as exc:
        if exc.status == 404:
            print(
                f"retry-chunk: no task instance {ref.task_id}[{ref.map_index}] in run {ref.run_id} of {ref.dag_id}",
                file=sys.stderr,
            )
            return 1
        raise
    state = ti.get("state")
    print(f"retry-chunk: {ref.dag_id} / {ref.run_id} / {ref.task_id}[{ref.map_index}] is {state}")
    path, body = clear_request(
        ref,
        dry_run=args.dry_run,
        only_failed=not args.any_state,
        downstream=not args.no_downstream,
    )
    answer = api.post(path, body)
    cleared = answer.get("task_instances", [])
    targets = [t for t in cleared if t.get("task_id") == ref.task_id and t.get("map_index") == ref.map_index]
    verb = "would clear" if args.dry_run else "cleared"
    for t in cleared:
        print(f"retry-chunk: {verb} {t.get('task_id')}[{t.get('map_index')}] (was {t.get('state')})")
    if not targets:
        hint = "" if args.any_state else " (only failed chunks are cleared; --any-state reruns it anyway)"
        print(
            f"retry-chunk: nothing cleared for {ref.task_id}[{ref.map_index}], state {state}{hint}",
            file=sys.stderr,
        )
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except BulkscanInputError as exc:
        print(f"retry-chunk: {exc}", file=sys.stderr)
        return 2
    except (BulkscanError, OSError) as exc:
        print(f"retry-chunk: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
