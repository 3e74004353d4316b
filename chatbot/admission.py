"""The bounded queue in front of the pipeline, shared by the chat page and the API.

At most `running` answers are written at once and at most `waiting` more wait their turn, first come first
served. Anyone beyond that is told at once that the service is busy, and anyone who waits longer than the
caller's limit is told so too, rather than left in a queue that never moves.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque

POLL_S = 0.05


class Ticket:
    def __init__(self, admission: "Admission"):
        self._admission = admission
        self.started = self.left = False

    def start(self, timeout_s: float, give_up: bool = True) -> bool:
        """Blocks until this ticket's turn (True) or `timeout_s` (False; it leaves the queue when `give_up`)."""
        deadline = time.monotonic() + timeout_s
        with self._admission._changed:
            while not self._admission._try_start(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    if give_up:
                        self._admission._leave(self)
                    return False
                self._admission._changed.wait(min(remaining, 1.0))
        return True

    async def start_async(self, timeout_s: float) -> bool:
        """The same for the event loop: polls instead of holding a worker thread while it waits."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self._admission._changed:
                if self._admission._try_start(self):
                    return True
                if time.monotonic() >= deadline:
                    self._admission._leave(self)
                    return False
            await asyncio.sleep(POLL_S)

    def leave(self) -> None:
        with self._admission._changed:
            self._admission._leave(self)


class Admission:
    def __init__(self, running: int, waiting: int):
        if running < 1 or waiting < 0:
            raise ValueError("running must be at least 1 and waiting at least 0")
        self.running, self.waiting = running, waiting
        self._queue: deque[Ticket] = deque()
        self._active = 0
        self._changed = threading.Condition()

    def try_enter(self) -> Ticket | None:
        """A place in the queue, or None when it is full (the caller says "busy")."""
        with self._changed:
            if self._active + len(self._queue) >= self.running + self.waiting:
                return None
            ticket = Ticket(self)
            self._queue.append(ticket)
            return ticket

    @property
    def counts(self) -> tuple[int, int]:
        """(answers being written, callers waiting)."""
        with self._changed:
            return self._active, len(self._queue)

    def _try_start(self, ticket: Ticket) -> bool:
        if ticket.started:
            return True
        if self._active < self.running and self._queue and self._queue[0] is ticket:
            self._queue.popleft()
            self._active += 1
            ticket.started = True
            self._changed.notify_all()
        return ticket.started

    def _leave(self, ticket: Ticket) -> None:
        if ticket.left:
            return
        ticket.left = True
        if ticket.started:
            self._active -= 1
        else:
            self._queue.remove(ticket)
        self._changed.notify_all()
