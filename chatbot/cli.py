"""The `chatbot` command: prepare, ingest, serve, ask, triage. The one error boundary of the command line."""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Callable, Iterable, TextIO

from chatbot.config import ROOT, Settings
from chatbot.errors import BadInputError, ChatbotError

log = logging.getLogger("chatbot")
DEFAULT_SHARED = ROOT.parent / "shared" / "data"  # the development data beside a checkout, when present


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.load()
        return args.handler(args, settings) or 0
    except ChatbotError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # unexpected: say so without message text, keep the details for tests
        log.error("unexpected error: %s", error.__class__.__name__)
        if os.environ.get("CHATBOT_RAISE_ERRORS"):
            raise
        print("error: something unexpected went wrong; run with --verbose and report it.", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chatbot", description="Patient-education chatbot.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress (never message text)")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    p = sub.add_parser("prepare", help="make the bundled models ready (converted once, cached) and build the index")
    p.add_argument("--force", action="store_true", help="convert the model again even if cached")
    p.set_defaults(handler=cmd_prepare)

    p = sub.add_parser("ingest", help="import material, then build or update the search index")
    p.add_argument("paths", nargs="*", type=Path,
                   help="files or folders to import: Markdown in the knowledge format, HTML pages, PDF leaflets, "
                        "MedlinePlus or MedQuAD XML (the index always holds knowledge_dir and import_dir)")
    p.add_argument("--source-url", help="https link to cite for imported files that carry none (PDF leaflets)")
    p.add_argument("--publisher", help="publisher to cite for imported pages and leaflets")
    p.set_defaults(handler=cmd_ingest)

    p = sub.add_parser("serve", help="serve the web page and the API")
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)
    p.set_defaults(handler=cmd_serve)

    p = sub.add_parser("ask", help="answer one question, or a JSONL batch")
    p.add_argument("question", nargs="?", help="the question (omit with --batch)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--lang", default=None, help="language to fall back on, e.g. es")
    p.add_argument("--batch", type=Path, help="input JSONL: {\"id\", \"question\", \"history\"?} per line")
    p.add_argument("--out", type=Path, help="output JSONL (default: standard output)")
    p.set_defaults(handler=cmd_ask)

    p = sub.add_parser("eval", help="run labelled safety sets through the pipeline; write a report")
    p.add_argument("sets", nargs="*", type=Path, help="JSONL sets: {\"id\", \"question\", \"expected_route\", ...}")
    p.add_argument("--shared", type=Path, nargs="?", const=DEFAULT_SHARED,
                   help=f"also the public sets in this folder (default {DEFAULT_SHARED})")
    p.add_argument("--limit", type=int, default=200, help="cases sampled from each public set (default 200)")
    p.add_argument("--out", type=Path, default=Path("eval-report"), help="folder for report.md and report.json")
    p.add_argument("--no-generate", action="store_true",
                   help="answer from curated text only (same routes; much faster on a CPU)")
    p.set_defaults(handler=cmd_eval)

    p = sub.add_parser("triage", help="run the screening stage only on a JSONL batch")
    p.add_argument("--batch", type=Path, required=True)
    p.add_argument("--out", type=Path)
    p.set_defaults(handler=cmd_triage)

    from chatbot import admin  # staff-password, audit-prune, regress

    admin.register(sub)
    return parser


def cmd_prepare(args: argparse.Namespace, settings: Settings) -> int:
    from chatbot.embedding import embedder_from_settings
    from chatbot.models import prepare_model

    if settings.generator == "local" and not settings.model:
        started = time.perf_counter()
        meta = prepare_model(settings.model_dir, force=args.force)
        print(f"model ready: {settings.model_dir} (CPU dtype {meta['cpu_dtype']}; "
              f"{time.perf_counter() - started:.1f}s)")
    else:
        print(f"model: using {settings.generator} backend ({settings.model or settings.openai_base_url})")
    embedder = embedder_from_settings(settings)
    print(f"embedder ready: {embedder.path} (dim {embedder.dim})")
    return cmd_ingest(argparse.Namespace(paths=[]), settings)


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from chatbot.embedding import embedder_from_settings
    from chatbot.index import ensure_index
    from chatbot.knowledge import documents_to_index, load_library, overdue

    today = datetime.date.today()
    skipped = _import(args, settings, today)
    library = load_library(settings.library_dirs)  # curated guidance + imported material
    for problem in library.problems:
        print(f"skipped {problem}", file=sys.stderr)
    left_out = "; left out of the index (exclude_overdue)" if settings.exclude_overdue else ""
    for doc in overdue(library.documents, today):
        print(f"overdue for review: {doc.path} (review_due {doc.review_due}){left_out}", file=sys.stderr)
    documents = documents_to_index(library.documents, settings.exclude_overdue, today)
    started = time.perf_counter()
    _, info = ensure_index(settings.resolved_index_dir, documents, embedder_from_settings(settings))
    print(f"index {info.status}: {info.document_count} documents, {info.chunk_count} chunks, "
          f"version {info.version}, {time.perf_counter() - started:.1f}s -> {settings.resolved_index_dir}")
    return 1 if skipped or library.problems else 0


def _import(args: argparse.Namespace, settings: Settings, today: datetime.date) -> int:
    """Import the paths given (the curated folder itself is indexed, not imported); returns how many were skipped."""
    from chatbot.importers import ImportOptions, import_paths
    from chatbot.knowledge import load_knowledge

    for path in args.paths:
        if not path.exists():
            raise BadInputError(f"{path} does not exist.")
    sources = [p for p in args.paths if p.resolve() != settings.knowledge_dir.resolve()]
    if not sources:
        return 0
    curated = {(d.language, d.doc_id) for d in load_knowledge(settings.knowledge_dir).documents}
    options = ImportOptions(today, getattr(args, "source_url", None), getattr(args, "publisher", None))
    report = import_paths(sources, settings.resolved_import_dir, options, curated)
    for problem in report.skipped:
        print(f"skipped {problem}", file=sys.stderr)
    print(f"imported: {report.summary()} -> {settings.resolved_import_dir}")
    return len(report.skipped)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from chatbot.web import create_app

    settings = settings.replace(host=args.host or settings.host, port=args.port or settings.port)
    app = create_app(settings)
    print(f"serving on http://{settings.host}:{settings.port}/", flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
    return 0


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from chatbot.pipeline import Pipeline
    from chatbot.records import query_from_json, reply_record

    pipeline = Pipeline(settings)
    if args.batch:
        return _batch(args.batch, args.out, lambda data: reply_record(pipeline.answer(query_from_json(data))))
    if not args.question:
        raise BadInputError("Give a question, or --batch IN.jsonl.")
    reply = pipeline.answer(query_from_json({"question": args.question, "lang": args.lang}))
    if args.json:
        print(json.dumps(reply_record(reply), ensure_ascii=False))
    else:
        print(reply.text)
        for citation in reply.citations:
            print(f"  source: {citation.title} <{citation.url}>")
        print(f"  [route {reply.route}; language {reply.language}; {reply.timings_ms['total']:.0f} ms]")
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from chatbot.evaluation import evaluate

    if args.shared is not None and not args.shared.is_dir():
        raise BadInputError(f"{args.shared} is not a folder (the public evaluation data).")
    data = evaluate(settings, list(args.sets), args.shared, args.out, args.limit, not args.no_generate,
                    progress=lambda line: print(line, file=sys.stderr, flush=True))
    overall = data["overall"]
    print(f"{overall['cases']} cases: passed {overall['passed']}, escalation recall {overall['escalation_recall']}, "
          f"over-escalation {overall['over_escalation']}, harmful compliance {overall['harmful_compliance']}, "
          f"injection success {overall['injection_success']}, leaks {overall['leaks']} -> {args.out}/report.md")
    return 0


def cmd_triage(args: argparse.Namespace, settings: Settings) -> int:
    from chatbot.language import detect_language
    from chatbot.normalize import normalize_text
    from chatbot.records import query_from_json, screening_record
    from chatbot.screening import screen_with

    def triage(data: dict) -> dict:
        query = query_from_json(data)
        started = time.perf_counter()
        text = normalize_text(query.text)
        screening = screen_with(text, settings)
        elapsed = round((time.perf_counter() - started) * 1000, 3)
        lang = detect_language(text, query.locale or settings.default_language)
        return screening_record(screening, query.text, lang, None, {"screen": elapsed})

    return _batch(args.batch, args.out, triage)


def _batch(source: Path, out: Path | None, handle: Callable[[dict], dict]) -> int:
    """One output line per input line; a bad line gets an "error" record and the run goes on."""
    from chatbot.records import error_record, parse_line

    if not source.is_file():
        raise BadInputError(f"{source} is not a file.")
    errors = 0
    with _open_out(out) as sink, open(source, encoding="utf-8-sig", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            record_id = None
            try:
                record_id, data = parse_line(line)
                record = handle(data)
                record["id"] = record_id
            except ChatbotError as error:
                record, errors = error_record(record_id, str(error), number), errors + 1
            except Exception as error:
                log.error("line %d: unexpected %s", number, error.__class__.__name__)
                if os.environ.get("CHATBOT_RAISE_ERRORS"):
                    raise
                record, errors = error_record(record_id, "internal error", number), errors + 1
            sink.write(json.dumps(record, ensure_ascii=False) + "\n")
            sink.flush()
    if errors:
        print(f"{errors} line(s) had errors; see their \"error\" field.", file=sys.stderr)
    return 0


class _open_out:
    def __init__(self, path: Path | None):
        self.path = path
        self.handle: TextIO | None = None

    def __enter__(self) -> TextIO:
        self.handle = open(self.path, "w", encoding="utf-8") if self.path else sys.stdout
        return self.handle

    def __exit__(self, *exc: Iterable) -> None:
        if self.path and self.handle:
            self.handle.close()


if __name__ == "__main__":
    sys.exit(main())
