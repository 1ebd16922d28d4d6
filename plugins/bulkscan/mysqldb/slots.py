"""A counting semaphore held on the MySQL server itself: at most `capacity` holders per name.

GET_LOCK(name:i) for i < capacity; the locks live in the holder's session, so a killed worker's
slot is freed when its connection drops, and the cap holds across every worker and machine that
talks to the same server. It caps load per host however many mapped tasks are ready at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from bulkscan.core.dbapi import ConnectFactory, Cursor
from bulkscan.core.sqlfiles import raw
from bulkscan.core.values import positive_int
from bulkscan.errors import BulkscanError
from bulkscan.mysqldb.connect import connection, scalar

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
    positive_int(capacity, "slot capacity")
    with connection(connect) as conn:
        cur = conn.cursor()
        deadline = time.monotonic() + timeout_s
        waited = False
        while (slot := _take(cur, name, capacity)) is None:
            if time.monotonic() > deadline:
                raise BulkscanError(f"no free slot of {capacity} for {name!r} after {timeout_s:.0f}s")
            if not waited:
                logger.info("waiting for one of %d slots of %s", capacity, name)
                waited = True
            time.sleep(poll_s)
        try:
            yield slot
        finally:
            with contextlib.suppress(Exception):  # the lock dies with the session anyway
                cur.execute(raw("common/slot_release"), (lock_name(name, slot),))


def _take(cur: Cursor, name: str, capacity: int) -> int | None:
    """The first free slot, now held by this session, or None when all `capacity` are taken."""
    for slot in range(capacity):
        if scalar(cur, raw("common/slot_take"), (lock_name(name, slot),)) == 1:
            return slot
    return None
