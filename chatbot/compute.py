"""One long-lived thread runs every torch call in the process.

Why: PyTorch's CPU kernels use an OpenMP team per calling thread, and an idle team keeps spinning on the cores
while another thread's team works. Measured on the 2-core dev machine with the bundled 135M model in bfloat16,
an 80-token generate took 1.9 s on a thread that was the only one to run torch, and 3.1-3.8 s when any other
thread had run torch before or ran it at the same time (for example the verifier embedding sentences while the
model writes). So the embedder and the generator both hand their work to this thread.

Two kinds of work: `run_long` (a whole generate) is taken in turn; `run` (short work such as embedding a few
sentences) is also picked up between two decoding steps of a running generate (`between_steps`), so verifying
a streamed sentence never waits for the whole draft.
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import Future
from typing import Callable, TypeVar

T = TypeVar("T")
_Task = tuple[Callable[[], object], Future]


class ComputeThread:
    def __init__(self, name: str = "torch") -> None:
        self.name = name
        self._short: deque[_Task] = deque()
        self._long: deque[_Task] = deque()
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None

    def on_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def run(self, function: Callable[[], T]) -> T:
        """Short work: run it on the compute thread (between decoding steps if a generate is running)."""
        if self.on_thread():
            return function()
        return self._submit(self._short, function).result()

    def run_long(self, function: Callable[[], T]) -> Future:
        """Long work (a generate): queued behind the one running, if any. Returns at once with a Future."""
        return self._submit(self._long, function)

    def between_steps(self) -> None:
        """Called by long work on the compute thread at each step: runs the short work waiting meanwhile."""
        while True:
            with self._ready:
                if not self._short:
                    return
                task = self._short.popleft()
            _execute(task)

    def _submit(self, queue: deque[_Task], function: Callable[[], object]) -> Future:
        future: Future = Future()
        with self._ready:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()
            queue.append((function, future))
            self._ready.notify()
        return future

    def _loop(self) -> None:
        while True:
            with self._ready:
                while not self._short and not self._long:
                    self._ready.wait()
                task = self._short.popleft() if self._short else self._long.popleft()
            _execute(task)


def _execute(task: _Task) -> None:
    function, future = task
    if not future.set_running_or_notify_cancel():
        return
    try:
        future.set_result(function())
    except BaseException as error:  # handed to whoever waits on the future
        future.set_exception(error)


COMPUTE = ComputeThread()
