"""Generator health: degraded while answers fail, a pause after several failures, recovery by a probe."""

from __future__ import annotations

from chatbot.errors import GenerationError
from chatbot.health import GeneratorHealth


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Probed:
    name = "openai:served"

    def __init__(self, up: bool) -> None:
        self.up, self.probes = up, 0

    def probe(self) -> bool:
        self.probes += 1
        return self.up


def test_failures_make_it_degraded_and_a_success_clears_them() -> None:
    health = GeneratorHealth()
    health.failure(GenerationError("The model server failed: ConnectError."))
    report = health.report(object())
    assert report["status"] == "degraded" and report["failures"] == 1
    assert "ConnectError" in report["last_error"]
    health.success()
    assert health.report(object())["status"] == "ok"


def test_several_failures_in_a_row_pause_the_generator_for_a_while() -> None:
    clock = Clock()
    health = GeneratorHealth(skip_after=3, pause_s=10, clock=clock)
    for _ in range(2):
        health.failure(GenerationError("x"))
    assert not health.paused()
    health.failure(GenerationError("x"))
    assert health.paused()
    clock.now += 11
    assert not health.paused(), "the server must be tried again after the pause"


def test_health_probes_a_failing_backend_and_recovers_when_it_is_back() -> None:
    clock = Clock()
    health = GeneratorHealth(clock=clock)
    health.failure(GenerationError("x"))
    backend = Probed(up=False)
    assert health.report(backend)["status"] == "degraded"
    assert health.report(backend)["status"] == "degraded"
    assert backend.probes == 1, "probes are rate-limited"
    backend.up = True
    clock.now += 5
    report = health.report(backend)
    assert report == {"name": "openai:served", "status": "ok", "failures": 0, "last_error": None}


def test_a_healthy_backend_is_not_probed() -> None:
    backend = Probed(up=True)
    assert GeneratorHealth().report(backend)["status"] == "ok"
    assert backend.probes == 0
