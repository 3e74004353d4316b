"""The compute thread: every torch call of the process runs on one thread; short work interleaves with long."""

from __future__ import annotations

import threading
import time

import pytest

from chatbot.compute import ComputeThread


def test_work_runs_on_one_long_lived_thread_and_returns_its_result() -> None:
    compute = ComputeThread("test-compute")
    names = {compute.run(lambda: threading.current_thread().name) for _ in range(5)}
    assert names == {"test-compute"}
    assert compute.run(lambda: 6 * 7) == 42


def test_an_error_reaches_the_caller() -> None:
    compute = ComputeThread()
    with pytest.raises(ZeroDivisionError):
        compute.run(lambda: 1 / 0)
    assert compute.run(lambda: "still serving") == "still serving"


def test_a_call_from_the_compute_thread_runs_inline_instead_of_deadlocking() -> None:
    compute = ComputeThread()
    assert compute.run(lambda: compute.run(lambda: "nested")) == "nested"


def test_short_work_runs_between_the_steps_of_long_work() -> None:
    compute = ComputeThread()
    steps, release = [], threading.Event()

    def long_work() -> str:
        while not release.is_set():  # a generate loop: one step, then whatever short work is waiting
            steps.append("step")
            compute.between_steps()
            time.sleep(0.005)
        return "draft"

    running = compute.run_long(long_work)
    while not steps:
        time.sleep(0.001)
    assert compute.run(lambda: "embedded while the draft is written") == "embedded while the draft is written"
    assert not running.done()
    release.set()
    assert running.result(timeout=5) == "draft"


def test_long_work_is_taken_in_turn() -> None:
    compute = ComputeThread()
    order: list[int] = []
    futures = [compute.run_long(lambda i=i: order.append(i) or i) for i in range(4)]
    assert [f.result(timeout=5) for f in futures] == [0, 1, 2, 3]
    assert order == [0, 1, 2, 3]
