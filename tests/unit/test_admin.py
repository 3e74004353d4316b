"""The staff commands: `chatbot staff-password`, `chatbot audit-prune`, `chatbot regress` (models faked)."""

from __future__ import annotations

import datetime
import io
from pathlib import Path

import pytest

from chatbot.audit import AnswerRecord, AuditStore, utcnow
from chatbot.cli import main
from chatbot.staff import verify_password
from tests.unit.test_cli import Built, cli  # noqa: F401  (the CLI fixture: tiny knowledge, fake models)


def test_staff_password_prints_a_hash_that_verifies(monkeypatch, capsys) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert main(["staff-password", "--stdin"]) == 0
    stored = capsys.readouterr().out.strip()
    assert verify_password("a long enough password", stored)


def test_staff_password_refuses_a_short_one(monkeypatch, capsys) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["staff-password", "--stdin"]) == 2
    assert "at least 10" in capsys.readouterr().err


def test_audit_prune_deletes_records_past_the_retention(cli: Built, monkeypatch, tmp_path: Path, capsys) -> None:
    monkeypatch.setenv("CHATBOT_AUDIT_RETENTION_DAYS", "30")
    store = AuditStore(f"sqlite:///{tmp_path / 'cache' / 'audit.sqlite3'}")  # the default place
    for i, age in enumerate((1, 29, 31, 365)):
        store.submit(AnswerRecord(f"{i:032x}", utcnow() - datetime.timedelta(days=age), "page", "answer", (),
                                  "en", (), {}, "b", "v"))
    assert store.flush()
    assert main(["audit-prune"]) == 0
    assert "deleted 2 answer and 0 feedback record(s) older than 30 days" in capsys.readouterr().out
    assert len(store.answers()) == 2
    assert main(["audit-prune", "--days", "0"]) == 0
    assert store.answers() == []
    assert main(["audit-prune", "--days", "-1"]) == 2


def test_regress_runs_a_suite_and_compares_with_the_last_run(cli: Built, tmp_path: Path, capsys) -> None:
    suite = tmp_path / "mini.jsonl"
    suite.write_text('{"id": "fever", "question": "What helps a fever?", "cite": "fever"}\n'
                     '{"id": "bad", "question": "What helps a fever?", "cite": "asthma"}\n', encoding="utf-8")
    assert main(["regress", str(suite)]) == 1
    first = capsys.readouterr().out
    assert "PASS  fever" in first and "FAIL  bad" in first and "1/2 passed; 2 new" in first
    assert main(["regress", str(suite)]) == 1
    assert "1/2 passed; 1 still failing, 1 still passing" in capsys.readouterr().out


def test_regress_names_a_missing_suite(cli: Built, capsys) -> None:
    assert main(["regress", "nowhere.jsonl"]) == 2
    assert "nowhere.jsonl is not a file" in capsys.readouterr().err
