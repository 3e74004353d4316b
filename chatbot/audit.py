"""The audit trail and patient feedback, stored through SQLAlchemy: SQLite under the cache folder by default,
PostgreSQL (or any SQLAlchemy URL) for several app replicas.

An answer record holds when, which route, flags, language, cited topic ids, timings, backend and index version:
never the question or the answer. Records are accepted into a bounded buffer and written by one writer thread, so
answers go out while the database is down; what was accepted is written when it comes back (the oldest records are
dropped, and counted, only when the buffer is full)."""

from __future__ import annotations

import collections
import datetime
import json
import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from chatbot.config import Settings
from chatbot.errors import ChatbotError
from chatbot.types import Reply

log = logging.getLogger(__name__)
FEEDBACK_REASONS = ("wrong", "unclear", "not_my_question", "too_long", "missing_source", "other")
RETRY_S = 5.0

_meta = sa.MetaData()
ANSWERS = sa.Table(
    "chatbot_answers", _meta,
    sa.Column("reply_id", sa.String(32), primary_key=True),
    sa.Column("created_at", sa.DateTime, nullable=False, index=True),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("route", sa.String(16), nullable=False),
    sa.Column("flags", sa.JSON, nullable=False),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("topics", sa.JSON, nullable=False),
    sa.Column("timings_ms", sa.JSON, nullable=False),
    sa.Column("backend", sa.String(120), nullable=False),
    sa.Column("index_version", sa.String(40), nullable=False),
)
FEEDBACK = sa.Table(
    "chatbot_feedback", _meta,
    sa.Column("reply_id", sa.String(32), primary_key=True),  # one verdict per answer: the latest wins
    sa.Column("created_at", sa.DateTime, nullable=False, index=True),
    sa.Column("helpful", sa.Boolean, nullable=False),
    sa.Column("reason", sa.String(32)),
)
RUNS = sa.Table(
    "chatbot_regression_runs", _meta,
    sa.Column("run_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("suite", sa.String(200), nullable=False, index=True),
    sa.Column("summary", sa.JSON, nullable=False),
)


class AuditUnavailable(ChatbotError):
    """The audit database cannot be read right now."""


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)  # naive UTC: the same in SQLite and PostgreSQL


@dataclass(frozen=True)
class AnswerRecord:
    reply_id: str
    created_at: datetime.datetime
    channel: str
    route: str
    flags: tuple[str, ...]
    language: str
    topics: tuple[str, ...]  # cited topic ids
    timings_ms: dict[str, float] = field(default_factory=dict)
    backend: str = ""
    index_version: str = ""


@dataclass(frozen=True)
class FeedbackRecord:
    reply_id: str
    created_at: datetime.datetime
    helpful: bool
    reason: str | None = None


def answer_record(reply: Reply, channel: str, backend: str, index_version: str,
                  now: datetime.datetime | None = None) -> AnswerRecord:
    """What the audit keeps of a reply: no question, no answer text."""
    return AnswerRecord(reply.reply_id, now or utcnow(), channel, reply.route, tuple(reply.flags), reply.language,
                        tuple(dict.fromkeys(c.doc_id for c in reply.citations)),
                        {k: float(v) for k, v in reply.timings_ms.items()}, backend, index_version)


def audit_url(settings: Settings) -> str:
    if settings.audit_url:
        return settings.audit_url
    return f"sqlite:///{settings.cache_dir / 'audit.sqlite3'}"


def redacted(url: str) -> str:
    """The URL with its password hidden, for logs and the console."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "(invalid URL)"


class AuditStore:
    def __init__(self, url: str, capacity: int = 10_000, sqlite_timeout_s: float = 2.0):
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        try:
            parsed = sa.engine.make_url(url)
        except sa.exc.ArgumentError:
            raise ChatbotError(f"The audit database URL is not valid: {redacted(url)}") from None
        self.url, self.capacity = url, capacity
        self._sqlite = parsed.get_backend_name() == "sqlite"
        self._sqlite_path = parsed.database if self._sqlite else None
        self._connect_args = {"timeout": sqlite_timeout_s} if self._sqlite else {"connect_timeout": 3}
        self._engine: sa.Engine | None = None
        self._pending: collections.deque[AnswerRecord | FeedbackRecord] = collections.deque()
        self._lock = threading.Lock()  # guards _pending and dropped
        self._write_lock = threading.Lock()  # one flush at a time
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.dropped = 0
        self.last_error: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> "AuditStore":
        return cls(audit_url(settings), settings.audit_buffer)

    # ------------------------------------------------------------------ writing
    def submit(self, record: AnswerRecord | FeedbackRecord) -> None:
        """Accept a record; it is written by the writer thread (or the next flush). Never blocks on the database."""
        with self._lock:
            if len(self._pending) >= self.capacity:
                self._pending.popleft()
                self.dropped += 1
            self._pending.append(record)
        self._wake.set()

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def flush(self) -> bool:
        """Write every accepted record; True when none is left. On a database error they stay for the next try."""
        with self._write_lock:
            with self._lock:
                batch = list(self._pending)
            if not batch:
                return True
            try:
                with self._connect() as connection, connection.begin():
                    for record in batch:
                        _write(connection, record)
            except SQLAlchemyError as error:
                self.last_error = error.__class__.__name__
                log.warning("audit database unavailable (%s); %d record(s) kept for later",
                            self.last_error, len(batch))
                return False
            with self._lock:
                for _ in batch:
                    self._pending.popleft()  # submit() only appends (or drops the oldest when full)
            self.last_error = None
            return not self._pending

    def start(self) -> None:
        """The writer thread: flushes when records arrive, retries every RETRY_S while the database is down."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(RETRY_S)
            self._wake.clear()
            self.flush()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=10)
        self.flush()
        if self._engine is not None:
            self._engine.dispose()

    # ------------------------------------------------------------------ reading (staff console, retention)
    def answers(self, limit: int = 100) -> list[AnswerRecord]:
        query = sa.select(ANSWERS).order_by(ANSWERS.c.created_at.desc()).limit(limit)
        return [_answer(row) for row in self._read(query)]

    def feedback(self, limit: int = 100) -> list[tuple[FeedbackRecord, AnswerRecord | None]]:
        """Feedback, newest first, each with the answer it is about (route and cited topics) when recorded."""
        query = (sa.select(FEEDBACK, ANSWERS).join(ANSWERS, ANSWERS.c.reply_id == FEEDBACK.c.reply_id, isouter=True)
                 .order_by(FEEDBACK.c.created_at.desc()).limit(limit))
        out = []
        for row in self._read(query):
            m = row._mapping
            fb = FeedbackRecord(m[FEEDBACK.c.reply_id], m[FEEDBACK.c.created_at], m[FEEDBACK.c.helpful],
                                m[FEEDBACK.c.reason])
            out.append((fb, _answer(row) if m[ANSWERS.c.route] is not None else None))
        return out

    def delete_older_than(self, days: int, now: datetime.datetime | None = None) -> dict[str, int]:
        """Retention: delete answer and feedback records older than `days` days; returns the counts deleted."""
        if days < 0:
            raise ValueError("days must not be negative")
        cutoff = (now or utcnow()) - datetime.timedelta(days=days)
        try:
            with self._connect() as connection, connection.begin():
                feedback = connection.execute(sa.delete(FEEDBACK).where(FEEDBACK.c.created_at < cutoff)).rowcount
                answers = connection.execute(sa.delete(ANSWERS).where(ANSWERS.c.created_at < cutoff)).rowcount
        except SQLAlchemyError as error:
            raise AuditUnavailable(f"The audit database cannot be reached ({error.__class__.__name__}).") from None
        return {"answers": answers, "feedback": feedback}

    def save_run(self, suite: str, summary: dict[str, Any]) -> None:
        try:
            with self._connect() as connection, connection.begin():
                connection.execute(sa.insert(RUNS).values(created_at=utcnow(), suite=suite, summary=summary))
        except SQLAlchemyError as error:
            raise AuditUnavailable(f"The run could not be stored ({error.__class__.__name__}).") from None

    def last_run(self, suite: str) -> dict[str, Any] | None:
        query = sa.select(RUNS.c.summary).where(RUNS.c.suite == suite).order_by(RUNS.c.run_id.desc()).limit(1)
        rows = self._read(query)
        return rows[0][0] if rows else None

    def _read(self, query) -> list:
        try:
            with self._connect() as connection:
                return list(connection.execute(query))
        except SQLAlchemyError as error:
            raise AuditUnavailable(f"The audit database cannot be reached ({error.__class__.__name__}).") from None

    def _connect(self) -> sa.Connection:
        if self._engine is None:
            if self._sqlite and self._sqlite_path and self._sqlite_path != ":memory:":
                from pathlib import Path

                Path(self._sqlite_path).parent.mkdir(parents=True, exist_ok=True)
            engine = sa.create_engine(self.url, connect_args=self._connect_args, pool_pre_ping=True)
            _meta.create_all(engine)  # raises while the database is down; then the next call tries again
            self._engine = engine
        return self._engine.connect()


def _write(connection: sa.Connection, record: AnswerRecord | FeedbackRecord) -> None:
    if isinstance(record, AnswerRecord):
        exists = connection.execute(sa.select(ANSWERS.c.reply_id).where(ANSWERS.c.reply_id == record.reply_id))
        if exists.first() is None:  # a retried batch may have been written before the connection broke
            connection.execute(sa.insert(ANSWERS).values(
                reply_id=record.reply_id, created_at=record.created_at, channel=record.channel, route=record.route,
                flags=list(record.flags), language=record.language, topics=list(record.topics),
                timings_ms=record.timings_ms, backend=record.backend, index_version=record.index_version))
    else:  # portable upsert: the latest verdict on an answer replaces the earlier one
        connection.execute(sa.delete(FEEDBACK).where(FEEDBACK.c.reply_id == record.reply_id))
        connection.execute(sa.insert(FEEDBACK).values(reply_id=record.reply_id, created_at=record.created_at,
                                                      helpful=record.helpful, reason=record.reason))


def _answer(row) -> AnswerRecord:
    m = row._mapping
    c = ANSWERS.c
    return AnswerRecord(m[c.reply_id], m[c.created_at], m[c.channel], m[c.route], tuple(_json(m[c.flags])),
                        m[c.language], tuple(_json(m[c.topics])), dict(_json(m[c.timings_ms])), m[c.backend],
                        m[c.index_version])


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def valid_reply_id(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 32 and all(ch in "0123456789abcdef" for ch in value)


def records_text(records: Iterable[AnswerRecord]) -> str:
    """A plain rendering for the CLI."""
    return "\n".join(f"{r.created_at:%Y-%m-%d %H:%M} {r.route:9} {r.language} {','.join(r.topics)}" for r in records)
