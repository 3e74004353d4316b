"""The generator's health: consecutive failures, a short pause after several, and a probe to see it is back.

Health shows `degraded` while the last answers failed. It must not stay degraded forever when no patient happens
to ask: a backend that can probe its server (the `openai` one) is probed when health is asked, at most every few
seconds, and a good probe clears the failures. After `skip_after` failures in a row, patients get the curated
answer at once for `pause_s` instead of each waiting for the server's deadlines; then the server is tried again.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

PROBE_EVERY_S = 2.0


class GeneratorHealth:
    def __init__(self, skip_after: int = 3, pause_s: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self.skip_after, self.pause_s, self._clock = skip_after, pause_s, clock
        self.failures = 0
        self.last_failure: float | None = None
        self.last_error = ""
        self._last_probe = float("-inf")
        self._lock = threading.Lock()

    def success(self) -> None:
        with self._lock:
            self.failures, self.last_error = 0, ""

    def failure(self, error: BaseException) -> None:
        with self._lock:
            self.failures += 1
            self.last_failure, self.last_error = self._clock(), str(error)

    def paused(self) -> bool:
        """Whether to skip the generator for now: several failures in a row, the last one moments ago."""
        with self._lock:
            return (self.failures >= self.skip_after and self.last_failure is not None
                    and self._clock() - self.last_failure < self.pause_s)

    def report(self, generator: Any) -> dict[str, Any]:
        """For /healthz: probes a failing backend that can be probed, then says how it stands."""
        probe = getattr(generator, "probe", None)
        if self.failures and probe and self._clock() - self._last_probe >= PROBE_EVERY_S:
            self._last_probe = self._clock()
            if probe():
                self.success()
        return {"name": getattr(generator, "name", "?"), "status": "degraded" if self.failures else "ok",
                "failures": self.failures, "last_error": self.last_error or None}
