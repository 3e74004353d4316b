"""The audit store, the same contract on every database: SQLite (always) and PostgreSQL (whenever
CHATBOT_TEST_POSTGRES_URL names a server; `.ci/with-postgres` starts one). Outages are real: a SQLite file locked by
another connection, a PostgreSQL database that refuses connections."""

from __future__ import annotations

import datetime
import os
import sqlite3
import uuid
from pathlib import Path
from typing import Iterator

import pytest
import sqlalchemy as sa

from chatbot.audit import AnswerRecord, AuditStore, AuditUnavailable, FeedbackRecord, answer_record, audit_url
from chatbot.config import Settings
from chatbot.types import Citation, Reply

PG_URL = os.environ.get("CHATBOT_TEST_POSTGRES_URL", "")
NOW = datetime.datetime(2026, 11, 23, 12, 0)


def _pg_admin():
    return sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for one test; its URL."""
    if not PG_URL:
        pytest.skip("PostgreSQL tests skipped: CHATBOT_TEST_POSTGRES_URL is not set (.ci/with-postgres sets it)")
    name = f"audit_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin()
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield sa.engine.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as c:
        c.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        c.execute(sa.text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path: Path) -> Iterator[AuditStore]:
    url = (f"sqlite:///{tmp_path / 'audit.sqlite3'}" if request.param == "sqlite"
           else request.getfixturevalue("pg_database"))
    store = AuditStore(url, capacity=100, sqlite_timeout_s=0.2)
    yield store
    store.close()


def record(i: int, days_ago: float = 0, route: str = "answer") -> AnswerRecord:
    return AnswerRecord(f"{i:032x}", NOW - datetime.timedelta(days=days_ago), "api", route, ("fallback",), "es",
                        ("fever", "asthma"), {"screen": 1.5, "total": 900.0}, "local:smollm2", "abc123")


def test_answers_and_feedback_round_trip(store: AuditStore) -> None:
    store.submit(record(1))
    store.submit(record(2, route="urgent"))
    store.submit(FeedbackRecord(f"{2:032x}", NOW, False))
    store.submit(FeedbackRecord(f"{2:032x}", NOW + datetime.timedelta(seconds=5), False, "unclear"))  # reason later
    store.submit(FeedbackRecord(f"{9:032x}", NOW, True))  # about an answer the audit does not hold
    assert store.flush() and store.pending == 0
    answers = store.answers()
    assert {a.reply_id for a in answers} == {f"{1:032x}", f"{2:032x}"}
    assert answers[0] == record(1) or answers[1] == record(1)
    feedback = {fb.reply_id: (fb, answer) for fb, answer in store.feedback()}
    assert len(feedback) == 2, "the latest verdict on an answer replaces the earlier one"
    fb, answer = feedback[f"{2:032x}"]
    assert (fb.helpful, fb.reason) == (False, "unclear")
    assert answer.route == "urgent" and answer.topics == ("fever", "asthma")
    assert feedback[f"{9:032x}"][1] is None


def test_a_retried_batch_does_not_duplicate_answers(store: AuditStore) -> None:
    store.submit(record(1))
    assert store.flush()
    store.submit(record(1))
    assert store.flush()
    assert len(store.answers()) == 1


def test_retention_deletes_only_old_records(store: AuditStore) -> None:
    for i, age in enumerate([0, 10, 89, 91, 400]):
        store.submit(record(i, days_ago=age))
        store.submit(FeedbackRecord(f"{i:032x}", NOW - datetime.timedelta(days=age), True))
    store.flush()
    assert store.delete_older_than(90, now=NOW) == {"answers": 2, "feedback": 2}
    assert sorted(a.reply_id for a in store.answers()) == [f"{i:032x}" for i in range(3)]
    assert len(store.feedback()) == 3
    assert store.delete_older_than(90, now=NOW) == {"answers": 0, "feedback": 0}


def test_regression_runs_are_kept_per_suite(store: AuditStore) -> None:
    assert store.last_run("starter") is None
    store.save_run("starter", {"cases": {"a": True}})
    store.save_run("starter", {"cases": {"a": False}})
    store.save_run("other", {"cases": {}})
    assert store.last_run("starter") == {"cases": {"a": False}}


def test_records_are_kept_while_sqlite_is_locked_and_written_after(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite3"
    store = AuditStore(f"sqlite:///{path}", sqlite_timeout_s=0.2)
    store.submit(record(1))
    assert store.flush()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # another process holding the file: every write fails
    store.submit(record(2))
    store.submit(FeedbackRecord(f"{2:032x}", NOW, True))
    assert not store.flush()
    assert store.pending == 2 and store.last_error == "OperationalError"
    blocker.execute("ROLLBACK")
    blocker.close()
    assert store.flush() and store.pending == 0
    assert {a.reply_id for a in store.answers()} == {f"{1:032x}", f"{2:032x}"}
    store.close()


def test_records_are_kept_while_postgres_refuses_connections(pg_database: str) -> None:
    store = AuditStore(pg_database)
    store.submit(record(1))
    assert store.flush()
    name = sa.engine.make_url(pg_database).database
    admin = _pg_admin()
    with admin.connect() as c:  # the database goes away for this app: new connections refused, old ones cut
        c.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
        c.execute(sa.text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
    store.submit(record(2))
    assert not store.flush()
    assert store.pending == 1
    with pytest.raises(AuditUnavailable):
        store.answers()
    with admin.connect() as c:
        c.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
    assert store.flush() and store.pending == 0
    assert len(store.answers()) == 2
    store.close()
    admin.dispose()


def test_a_full_buffer_drops_the_oldest_and_counts_them(tmp_path: Path) -> None:
    store = AuditStore(f"sqlite:///{tmp_path / 'a.sqlite3'}", capacity=3)
    for i in range(5):
        store.submit(record(i))
    assert store.pending == 3 and store.dropped == 2
    store.flush()
    assert sorted(a.reply_id for a in store.answers()) == [f"{i:032x}" for i in (2, 3, 4)]


def test_an_answer_record_holds_no_message_text() -> None:
    reply = Reply(question="I am Jane Doe, born 1980-02-03, is my rash cancer?", text="Rashes are common.",
                  language="en", route="answer", flags=("x",), reply_id="f" * 32,
                  citations=(Citation("rash", "Rash", "https://medlineplus.gov/rash.html", 0.7),
                             Citation("rash", "Rash", "https://medlineplus.gov/rash2.html", 0.6)),
                  timings_ms={"total": 12.0})
    rec = answer_record(reply, "page", "local:m", "v1", now=NOW)
    assert rec.topics == ("rash",)
    assert "Jane" not in repr(rec) and "Rashes" not in repr(rec)


def test_the_default_database_is_sqlite_under_the_cache_folder(tmp_path: Path) -> None:
    assert audit_url(Settings(cache_dir=tmp_path)) == f"sqlite:///{tmp_path / 'audit.sqlite3'}"
    assert audit_url(Settings(audit_url="postgresql+psycopg://u@h/db")) == "postgresql+psycopg://u@h/db"
