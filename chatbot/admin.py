"""Staff commands of the `chatbot` CLI: `staff-password`, `audit-prune`, `regress`."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from chatbot.config import Settings
from chatbot.errors import BadInputError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("staff-password", help="print a password hash for the staff_accounts setting")
    p.add_argument("--stdin", action="store_true", help="read the password from standard input (scripts)")
    p.set_defaults(handler=cmd_staff_password)

    p = sub.add_parser("audit-prune", help="delete audit and feedback records older than the retention period")
    p.add_argument("--days", type=int, default=None, help="keep this many days (default: audit_retention_days)")
    p.set_defaults(handler=cmd_audit_prune)

    p = sub.add_parser("regress", help="run a regression suite (JSONL or CSV); compare with its previous run")
    p.add_argument("suite", type=Path, help="e.g. evals/regression/starter.jsonl")
    p.add_argument("--no-store", action="store_true", help="do not store this run for the next comparison")
    p.set_defaults(handler=cmd_regress)


def cmd_staff_password(args: argparse.Namespace, settings: Settings) -> int:
    from chatbot.staff import hash_password

    if args.stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise BadInputError("The passwords differ.")
    if len(password) < 10:
        raise BadInputError("Use at least 10 characters.")
    print(hash_password(password))
    return 0


def cmd_audit_prune(args: argparse.Namespace, settings: Settings) -> int:
    from chatbot.audit import AuditStore, redacted

    days = settings.audit_retention_days if args.days is None else args.days
    if days < 0:
        raise BadInputError("--days must be 0 or more.")
    store = AuditStore.from_settings(settings)
    deleted = store.delete_older_than(days)
    print(f"deleted {deleted['answers']} answer and {deleted['feedback']} feedback record(s) older than {days} days "
          f"from {redacted(store.url)}")
    return 0


def cmd_regress(args: argparse.Namespace, settings: Settings) -> int:
    from chatbot.audit import AuditStore
    from chatbot.pipeline import Pipeline
    from chatbot.regression import load_suite, report_text, run_suite, summary

    cases = load_suite(args.suite)
    store = AuditStore.from_settings(settings)
    pipeline = Pipeline(settings)
    results = run_suite(cases, pipeline.answer, store.last_run(args.suite.name))
    print(report_text(results))
    if not args.no_store:
        info = pipeline.index_info
        store.save_run(args.suite.name, summary(results, info.version if info else "", settings.generator))
    return 0 if all(r.passed for r in results) else 1
