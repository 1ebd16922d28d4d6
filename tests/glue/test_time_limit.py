"""A chunk's own time limit nested in its task's timer (bulkscan.glue.time_limit), on real signals."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from types import FrameType

import pytest
from airflow.sdk.exceptions import AirflowTaskTimeout

from bulkscan.glue.time_limit import STATEMENT_GRACE_S, kill_after, time_limit


class OuterTimeout(Exception):
    pass


@pytest.fixture
def outer_timer() -> Iterator[None]:
    """A task's own execution_timeout as Airflow sets it: SIGALRM and ITIMER_REAL (here 30 s)."""

    def expired(signum: int, frame: FrameType | None) -> None:
        raise OuterTimeout

    before, _ = signal.getitimer(signal.ITIMER_REAL)  # pytest-timeout's own, when it runs
    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, 30)
    yield
    signal.signal(signal.SIGALRM, previous)
    signal.setitimer(signal.ITIMER_REAL, before)


def test_the_chunk_limit_ends_the_block_then_gives_the_task_timer_back(outer_timer: None) -> None:
    handler = signal.getsignal(signal.SIGALRM)
    expected = r"chunk 3 \(ids 1-9\) ran past its time limit of 0 s"
    with pytest.raises(AirflowTaskTimeout, match=expected), time_limit(0.2, "chunk 3 (ids 1-9)"):
        time.sleep(10)
    left, _ = signal.getitimer(signal.ITIMER_REAL)
    assert 25 < left < 30  # the task's timer runs on, less the time spent inside
    assert signal.getsignal(signal.SIGALRM) is handler


def test_a_task_timer_shorter_than_the_chunk_limit_stays_the_one_that_fires(outer_timer: None) -> None:
    signal.setitimer(signal.ITIMER_REAL, 0.2)
    with pytest.raises(OuterTimeout), time_limit(60, "chunk 0"):
        time.sleep(10)


def test_a_block_within_its_limit_leaves_the_task_timer_as_it_was(outer_timer: None) -> None:
    with time_limit(5, "chunk 1"):
        left_inside, _ = signal.getitimer(signal.ITIMER_REAL)
    left, _ = signal.getitimer(signal.ITIMER_REAL)
    assert left_inside <= 5 and 25 < left <= 30  # the chunk's alarm inside, the task's timer after it


def test_a_statement_blocked_on_the_server_is_ended_just_after_the_first_limit_to_end(outer_timer: None) -> None:
    """kill_after: the scan's KILL QUERY deadline is the chunk's own limit or the task's timer (here 30 s),
    whichever ends first, plus the grace that lets the alarm act first where it can."""
    assert kill_after(5) == 5 + STATEMENT_GRACE_S
    for own in (None, 600):
        got = kill_after(own)
        assert got is not None and 25 + STATEMENT_GRACE_S < got <= 30 + STATEMENT_GRACE_S
    signal.setitimer(signal.ITIMER_REAL, 0)  # no task timer, as on the library path
    assert kill_after(None) is None and kill_after(5) == 5 + STATEMENT_GRACE_S
