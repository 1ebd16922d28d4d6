"""A counting semaphore held on the MySQL server itself: at most `capacity` holders per name.

GET_LOCK(name:i) for i < capacity; the locks live in the holder's session, so a killed worker's
slot is freed when its connection drops, and the cap holds across every worker and machine that
talks to the same server. It caps load per host however many mapped tasks are ready at once.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from bulkscan.errors import BulkscanError, BulkscanInputError
from bulkscan.mysqldb.connect import ConnectFactory, close_quietly

log = logging.getLogger(__name__)


def lock_name(name: str, slot: int) -> str:
    """MySQL lock names are at most 64 characters: long names are shortened with a digest."""
    full = f"bulkscan:{name}:{slot}"
    if len(full) <= 64:
        return full
    digest = hashlib.sha1(name.encode()).hexdigest()[:16]
    return f"bulkscan:{name[:30]}~{digest}:{slot}"


@contextmanager
def host_slot(
    connect: ConnectFactory,
    name: str,
    capacity: int,
    timeout_s: float = 6 * 3600,
    poll_s: float = 0.25,
    logger: logging.Logger = log,
) -> Iterator[int]:
    """Hold one of `capacity` slots named `name` on the server behind `connect`; yields the slot number."""
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
        raise BulkscanInputError(f"slot capacity must be a positive integer, got {capacity!r}")
    conn = connect()
    held: str | None = None
    try:
        cur = conn.cursor()
        deadline = time.monotonic() + timeout_s
        waited = False
        while held is None:
            for slot in range(capacity):
                cur.execute("SELECT GET_LOCK(%s, 0)", (lock_name(name, slot),))
                if cur.fetchone()[0] == 1:
                    held = lock_name(name, slot)
                    break
            else:
                if time.monotonic() > deadline:
                    raise BulkscanError(f"no free slot of {capacity} for {name!r} after {timeout_s:.0f}s")
                if not waited:
                    logger.info("waiting for one of %d slots of %s", capacity, name)
                    waited = True
                time.sleep(poll_s)
        yield int(held.rsplit(":", 1)[1])
    finally:
        if held is not None:
            try:
                conn.cursor().execute("SELECT RELEASE_LOCK(%s)", (held,))
            except Exception:  # noqa: BLE001 - the lock dies with the session anyway
                pass
        close_quietly(conn)
