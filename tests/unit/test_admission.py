"""The bounded queue: a few answers at once, a few more waiting in order, everyone else told "busy"."""

from __future__ import annotations

import asyncio
import threading

import pytest

from chatbot.admission import Admission


def test_a_full_queue_turns_newcomers_away() -> None:
    admission = Admission(running=1, waiting=1)
    first, second = admission.try_enter(), admission.try_enter()
    assert first is not None and second is not None
    assert admission.try_enter() is None
    assert first.start(0)
    assert admission.counts == (1, 1)
    first.leave()
    assert admission.try_enter() is not None, "a place freed is a place taken"


def test_waiting_callers_start_in_order_when_a_place_frees() -> None:
    admission = Admission(running=1, waiting=3)
    running = admission.try_enter()
    assert running.start(0)
    tickets = [admission.try_enter() for _ in range(3)]
    order: list[int] = []

    def wait(i: int) -> None:
        assert tickets[i].start(10)
        order.append(i)
        tickets[i].leave()

    threads = [threading.Thread(target=wait, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    running.leave()
    for thread in threads:
        thread.join(10)
    assert order == [0, 1, 2]
    assert admission.counts == (0, 0)


def test_a_caller_who_waits_too_long_leaves_the_queue() -> None:
    admission = Admission(running=1, waiting=1)
    assert admission.try_enter().start(0)
    waiting = admission.try_enter()
    assert not waiting.start(0.05)
    assert admission.counts == (1, 0)
    waiting.leave()  # leaving twice is harmless
    assert admission.counts == (1, 0)


def test_a_caller_can_keep_its_place_after_a_first_short_wait() -> None:
    admission = Admission(running=1, waiting=1)
    running = admission.try_enter()
    running.start(0)
    waiting = admission.try_enter()
    assert not waiting.start(0.01, give_up=False)
    assert admission.counts == (1, 1)
    running.leave()
    assert waiting.start(1)


def test_the_event_loop_waits_without_a_thread_and_in_order() -> None:
    admission = Admission(running=1, waiting=2)
    running = admission.try_enter()
    running.start(0)

    async def scenario() -> tuple[bool, bool]:
        late = admission.try_enter()
        timer = asyncio.get_running_loop().call_later(0.1, running.leave)
        started = await late.start_async(5)
        again = admission.try_enter()
        gave_up = not await again.start_async(0.1)
        timer.cancel()
        return started, gave_up

    result: list = []  # on a thread of its own: another test may have left an event loop on this one
    thread = threading.Thread(target=lambda: result.append(asyncio.run(scenario())))
    thread.start()
    thread.join(10)
    assert result == [(True, True)]
    assert admission.counts == (1, 0)


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError):
        Admission(running=0, waiting=1)
