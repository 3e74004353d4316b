"""The staff console at /staff (server-rendered HTML, behind a login): ask a question and see everything the
pipeline did, run regression suites against their previous run, review the knowledge and the patients' feedback.
Nothing here is reachable without a signed-in staff member; every form carries a CSRF token."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Callable

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from chatbot import regression
from chatbot.audit import AuditUnavailable, redacted
from chatbot.config import Settings
from chatbot.errors import BadInputError
from chatbot.knowledge import load_library, overdue
from chatbot.types import ROUTES, Query, Reply
from chatbot.ui import page_locale

if TYPE_CHECKING:
    from chatbot.web import ChatService

from chatbot.staff import StaffAuth

MAX_UPLOAD_BYTES = 1024 * 1024
_CSS = """
body {font-family: system-ui, "Segoe UI", Roboto, sans-serif; color: #1f2937; background: #ffffff; margin: 0;
      line-height: 1.45;}
header {background: #1e3a5f; color: #ffffff; padding: 0.6em 1em; display: flex; gap: 1.2em; align-items: center;
        flex-wrap: wrap;}
header a {color: #ffffff;} header form {margin-left: auto;}
main {padding: 1em; max-width: 1200px;}
a {color: #1d4ed8;} a:focus, button:focus, input:focus, select:focus, textarea:focus {outline: 3px solid #b45309;
  outline-offset: 2px;}
.skip {position: absolute; left: -999px;} .skip:focus {left: 1em; top: 0.5em; background: #fff; color: #1f2937;}
table {border-collapse: collapse; margin: 0.5em 0 1.2em; width: 100%;}
th, td {border: 1px solid #9ca3af; padding: 0.3em 0.5em; text-align: left; vertical-align: top;}
th {background: #f3f4f6;}
.kept, .pass {background: #d1fae5; color: #064e3b;} .dropped, .fail {background: #fee2e2; color: #7f1d1d;}
.overdue {background: #fef3c7; color: #78350f; font-weight: 600;}
pre {white-space: pre-wrap; background: #f3f4f6; padding: 0.6em; border: 1px solid #d1d5db;}
button {background: #1e3a5f; color: #ffffff; border: 0; padding: 0.45em 1em; border-radius: 4px; cursor: pointer;}
header button {background: #ffffff; color: #1e3a5f;}
label {display: block; margin: 0.4em 0 0.2em; font-weight: 600;}
textarea, input[type=text], input[type=password], select {font: inherit; padding: 0.3em; width: min(40em, 100%);}
.error {color: #7f1d1d; background: #fee2e2; padding: 0.5em;}
"""
NAV = (("/staff", "Ask"), ("/staff/suites", "Regression suites"), ("/staff/knowledge", "Knowledge"),
       ("/staff/feedback", "Feedback and audit"))


def e(value: object) -> str:
    return html.escape(str(value), quote=True)


def link(url: str, text: str) -> str:
    return f'<a href="{e(url)}" rel="noopener noreferrer" target="_blank">{e(text)}</a>' \
        if url.startswith(("https://", "http://")) else e(text)


def console_router(service: "ChatService", settings: Settings) -> APIRouter:
    router = APIRouter(prefix="/staff", include_in_schema=False)
    auth = StaffAuth(settings)
    pipeline = service.pipeline

    def page(title: str, body: str, user: str | None = None, status: int = 200) -> HTMLResponse:
        nav = ""
        if user:
            links = " ".join(f'<a href="{href}">{e(label)}</a>' for href, label in NAV)
            nav = (f'<nav aria-label="Console">{links}</nav><form method="post" action="/staff/logout">'
                   f'{csrf(user)}<span>{e(user)}</span> <button type="submit">Sign out</button></form>')
        return HTMLResponse(
            f'<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width, initial-scale=1"><title>{e(title)} · Staff console</title>'
            f'<style>{_CSS}</style></head><body><a class="skip" href="#main">Skip to content</a>'
            f'<header><strong>Staff console</strong>{nav}</header><main id="main"><h1>{e(title)}</h1>{body}</main>'
            f'</body></html>', status_code=status,
            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})

    def csrf(user: str) -> str:
        return f'<input type="hidden" name="csrf" value="{auth.csrf_token(user)}">'

    def guarded(handler: Callable) -> Callable:
        """Only for a signed-in staff member; a POST also needs the form's CSRF token."""
        async def wrapper(request: Request) -> Response:
            user = auth.user(request)
            if user is None:
                return RedirectResponse("/staff/login", status_code=303)
            if request.method == "POST":
                form = await request.form(max_part_size=MAX_UPLOAD_BYTES)
                if not auth.csrf_ok(user, form.get("csrf")):
                    return page("Form expired", '<p class="error">Reload the page and try again.</p>', user, 403)
                return await handler(request, user, form)
            return await handler(request, user, None)
        return wrapper

    # ------------------------------------------------------------------ sign in
    @router.get("/login")
    async def login_form(request: Request, error: str = "") -> Response:
        if auth.user(request):
            return RedirectResponse("/staff", status_code=303)
        if not auth.configured:
            return page("Sign in", "<p>No staff accounts are configured. Set <code>CHATBOT_STAFF_ACCOUNTS</code> "
                                   "(hashes from <code>chatbot staff-password</code>) or "
                                   "<code>CHATBOT_STAFF_SSO_HEADER</code>.</p>", status=403)
        return login_page(error)

    def login_page(error: str = "", status: int = 200) -> HTMLResponse:
        problem = f'<p class="error" role="alert">{e(error)}</p>' if error else ""
        return page("Sign in", f'{problem}<form method="post" action="/staff/login">'
                               '<label for="name">Name</label><input type="text" id="name" name="name" '
                               'autocomplete="username" required>'
                               '<label for="password">Password</label><input type="password" id="password" '
                               'name="password" autocomplete="current-password" required>'
                               '<p><button type="submit">Sign in</button></p></form>', status=status)

    @router.post("/login")
    async def login(request: Request) -> Response:
        form = await request.form()
        name, password = str(form.get("name", "")), str(form.get("password", ""))
        if not await run_in_threadpool(auth.check_password, name, password):
            return login_page("That name and password do not match a staff account.", 401)
        response = RedirectResponse("/staff", status_code=303)
        auth.sign_in(response, name, request)
        return response

    async def logout(request: Request, user: str, form) -> Response:
        response = RedirectResponse("/staff/login", status_code=303)
        auth.sign_out(response, request)
        return response

    # ------------------------------------------------------------------ ask and see everything
    async def ask_form(request: Request, user: str, form) -> Response:
        return page("Ask", ask_box(user), user)

    def ask_box(user: str, question: str = "", lang: str = "") -> str:
        return (f'<form method="post" action="/staff/ask">{csrf(user)}<label for="question">Question</label>'
                f'<textarea id="question" name="question" rows="3" required>{e(question)}</textarea>'
                f'<label for="lang">Page language (optional, e.g. es)</label>'
                f'<input type="text" id="lang" name="lang" value="{e(lang)}" maxlength="8">'
                f'<p><button type="submit">Answer</button></p></form>')

    async def ask(request: Request, user: str, form) -> Response:
        question, lang = str(form.get("question", "")).strip(), str(form.get("lang", ""))
        if not question:
            return page("Ask", '<p class="error">Type a question.</p>' + ask_box(user), user, 400)
        reply = await run_in_threadpool(pipeline.answer, Query(question, (), page_locale(lang)))
        return page("Ask", ask_box(user, question, lang) + trace_html(reply), user)

    # ------------------------------------------------------------------ regression suites
    def suite_files() -> list[str]:
        folder = settings.regression_dir
        return sorted(p.name for p in folder.glob("*") if p.suffix in (".jsonl", ".csv")) if folder.is_dir() else []

    def suites_form(user: str) -> str:
        options = "".join(f'<option value="{e(n)}">{e(n)}</option>' for n in suite_files())
        return (f'<form method="post" action="/staff/suites/run" enctype="multipart/form-data">{csrf(user)}'
                f'<label for="suite">A shipped suite</label><select id="suite" name="suite">'
                f'<option value="">(none: upload one)</option>{options}</select>'
                f'<label for="file">or upload JSONL / CSV (id, question, lang, route, cite, must_not)</label>'
                f'<input type="file" id="file" name="file" accept=".jsonl,.csv">'
                f'<p><button type="submit">Run</button> (each case is answered by the live pipeline)</p></form>')

    async def suites(request: Request, user: str, form) -> Response:
        return page("Regression suites", suites_form(user), user)

    async def run_suite(request: Request, user: str, form) -> Response:
        try:
            name, cases = await _chosen_suite(form)
        except BadInputError as error:
            return page("Regression suites", f'<p class="error" role="alert">{e(error)}</p>' + suites_form(user),
                        user, 400)
        store = service.audit
        previous, note = None, ""
        try:
            previous = store.last_run(name) if store else None
        except AuditUnavailable as error:
            note = f'<p class="error">{e(error)} The run is not compared or stored.</p>'
        results = await run_in_threadpool(regression.run_suite, cases, pipeline.answer, previous)
        if store and not note:
            info = pipeline.index_info
            try:
                store.save_run(name, regression.summary(results, info.version if info else "", service.backend))
            except AuditUnavailable as error:
                note = f'<p class="error">{e(error)}</p>'
        return page(f"Suite {name}", note + results_html(results, previous) + suites_form(user), user)

    async def _chosen_suite(form) -> tuple[str, tuple[regression.Case, ...]]:
        upload = form.get("file")
        if upload is not None and getattr(upload, "filename", ""):
            data = await upload.read(MAX_UPLOAD_BYTES + 1)
            if len(data) > MAX_UPLOAD_BYTES:
                raise BadInputError("The file is larger than 1 MB.")
            if not upload.filename.lower().endswith((".jsonl", ".csv")):
                raise BadInputError("Upload a .jsonl or .csv file.")
            return upload.filename, regression.parse_suite(upload.filename, data)
        name = str(form.get("suite", ""))
        if name not in suite_files():
            raise BadInputError("Choose a suite or upload a file.")
        return name, regression.load_suite(settings.regression_dir / name)

    # ------------------------------------------------------------------ knowledge, feedback
    async def knowledge(request: Request, user: str, form) -> Response:
        library = await run_in_threadpool(load_library, settings.library_dirs)
        late = set(overdue(library.documents))
        rows = "".join(
            f'<tr class="{"overdue" if d in late else ""}"><td>{e(d.doc_id)}</td><td>{e(d.language)}</td>'
            f'<td>{e(d.title)}</td><td>{e(d.origin)}</td><td>{d.last_reviewed}</td><td>{d.review_due}'
            f'{" (overdue)" if d in late else ""}</td></tr>'
            for d in sorted(library.documents, key=lambda d: (d.review_due, d.doc_id, d.language)))
        info = pipeline.index_info
        index = ("<p>The index is not loaded yet.</p>" if info is None else
                 f"<table><tr><th>built</th><td>{e(info.built_at)}</td></tr><tr><th>status</th><td>{e(info.status)}"
                 f"</td></tr><tr><th>version</th><td>{e(info.version)}</td></tr><tr><th>from</th><td>"
                 f"{info.document_count} documents, {info.chunk_count} chunks in "
                 f"{e(', '.join(str(p) for p in settings.library_dirs))}</td></tr><tr><th>embedder</th><td>"
                 f"{e(info.embedder)} ({info.dim} dimensions)</td></tr></table>")
        problems = "".join(f"<li>{e(p)}</li>" for p in library.problems)
        body = (f"<h2>Index</h2>{index}<h2>Topics</h2><p>{len(library.documents)} documents, "
                f"<strong>{len(late)} past their review date</strong> (highlighted, listed first).</p>"
                f"<table><thead><tr><th>id</th><th>language</th><th>title</th><th>origin</th><th>last reviewed</th>"
                f"<th>review due</th></tr></thead><tbody>{rows}</tbody></table>"
                + (f"<h2>Files skipped</h2><ul>{problems}</ul>" if problems else ""))
        return page("Knowledge", body, user)

    async def feedback(request: Request, user: str, form) -> Response:
        store = service.audit
        if store is None:
            return page("Feedback and audit", "<p>No audit store is configured.</p>", user)
        try:
            items = await run_in_threadpool(store.feedback, 200)
            answers = await run_in_threadpool(store.answers, 500)
        except AuditUnavailable as error:
            return page("Feedback and audit", f'<p class="error">{e(error)}</p>', user, 503)
        titles = _topic_links(pipeline)
        rows = "".join(
            f'<tr><td>{fb.created_at:%Y-%m-%d %H:%M}</td><td>{"helpful" if fb.helpful else "not helpful"}</td>'
            f'<td>{e(fb.reason or "")}</td><td>{e(a.route if a else "(not in the audit)")}</td>'
            f'<td>{e(a.language if a else "")}</td><td>{" · ".join(titles(t) for t in (a.topics if a else ()))}</td>'
            f'<td><code>{e(fb.reply_id)}</code></td></tr>' for fb, a in items)
        counts = {route: sum(a.route == route for a in answers) for route in ROUTES}
        summary = ", ".join(f"{route} {n}" for route, n in counts.items() if n) or "none yet"
        body = (f"<p>Audit database: <code>{e(redacted(store.url))}</code>; waiting to be written: {store.pending}"
                f"{'; dropped: ' + str(store.dropped) if store.dropped else ''}.</p>"
                f"<p>Latest {len(answers)} answers by route: {e(summary)}.</p>"
                f"<h2>Feedback</h2><table><thead><tr><th>when (UTC)</th><th>verdict</th><th>reason</th><th>route</th>"
                f"<th>language</th><th>sources</th><th>reply</th></tr></thead><tbody>{rows}</tbody></table>")
        return page("Feedback and audit", body, user)

    for path, method, handler in (("", "GET", ask_form), ("/ask", "POST", ask), ("/suites", "GET", suites),
                                  ("/suites/run", "POST", run_suite), ("/knowledge", "GET", knowledge),
                                  ("/feedback", "GET", feedback), ("/logout", "POST", logout)):
        router.add_api_route(path, guarded(handler), methods=[method])
    return router


def _topic_links(pipeline) -> Callable[[str], str]:
    docs = {}
    if pipeline.knowledge is not None:
        for d in pipeline.knowledge.documents:
            docs.setdefault(d.doc_id, d)

    def render(topic: str) -> str:
        d = docs.get(topic)
        return link(d.sources[0].url, d.title) if d and d.sources else e(topic)
    return render


def trace_html(reply: Reply) -> str:
    """Everything the pipeline did for one question."""
    flags = ", ".join(reply.flags) or "none"
    head = (f"<h2>Answer</h2><table><tr><th>route</th><td>{e(reply.route)}</td></tr><tr><th>flags</th><td>{e(flags)}"
            f"</td></tr><tr><th>language</th><td>{e(reply.language)}</td></tr></table><pre>{e(reply.text)}</pre>")
    cites = "".join(f"<li>{link(c.url, c.title)} ({e(c.doc_id)}, score {c.score:.3f})</li>" for c in reply.citations)
    timings = "".join(f"<tr><th>{e(k)}</th><td>{v:.1f} ms</td></tr>" for k, v in reply.timings_ms.items())
    passages = "".join(
        f"<tr><td>{i}</td><td>{e(p.chunk.doc_id)}</td><td>{e(p.chunk.title)} — {e(p.chunk.section)}</td>"
        f"<td>{p.score:.3f}</td><td>{p.fused:.4f}</td><td>{' · '.join(link(s.url, s.publisher or s.title) for s in p.chunk.sources)}"
        f"</td><td><details><summary>text</summary>{e(p.chunk.text)}</details></td></tr>"
        for i, p in enumerate(reply.passages, start=1))
    checks = "".join(
        f'<tr class="{"kept" if c.kept else "dropped"}"><td>{"kept" if c.kept else "dropped"}</td><td>{e(c.reason)}'
        f'</td><td>{c.support:.2f}</td><td>{c.coverage:.2f}</td><td>{"" if c.passage is None else c.passage + 1}</td>'
        f'<td>{e(c.text)}</td></tr>' for c in reply.checks)
    prompt = "<p>The model was not asked (screening, no relevant passage, or curated text in this language).</p>"
    if reply.prompt is not None:
        turns = "".join(f"<h3>{e(t.role)}</h3><pre>{e(t.content)}</pre>" for t in reply.prompt.messages)
        prefill = f"<h3>prefill (the answer starts with)</h3><pre>{e(reply.prompt.prefill)}</pre>" \
            if reply.prompt.prefill else ""
        prompt = f"<h3>system</h3><pre>{e(reply.prompt.system)}</pre>{turns}{prefill}"
    return (head + f"<h2>Sources shown</h2><ul>{cites or '<li>none</li>'}</ul>"
            f"<h2>Timings</h2><table>{timings}</table>"
            f"<h2>Retrieved passages</h2>" + (
                f"<table><thead><tr><th>#</th><th>topic</th><th>section</th><th>cosine</th><th>fused</th>"
                f"<th>sources</th><th>passage</th></tr></thead><tbody>{passages}</tbody></table>" if passages else
                "<p>None relevant (or the route was decided before retrieval).</p>")
            + "<h2>Draft, sentence by sentence</h2>" + (
                f"<table><thead><tr><th>verdict</th><th>why</th><th>support</th><th>coverage</th><th>passage</th>"
                f"<th>sentence</th></tr></thead><tbody>{checks}</tbody></table>" if checks else
                "<p>No generated draft.</p>")
            + f"<h2>Prompt the model saw</h2>{prompt}")


def results_html(results: list[regression.CaseResult], previous: dict | None) -> str:
    passed = sum(r.passed for r in results)
    counts = regression.changes(results)
    compared = ("compared with the previous run (" + ", ".join(f"{n} {c}" for c, n in counts.items() if n) + ")"
                if previous else "no previous run to compare with")
    rows = "".join(
        f'<tr class="{"pass" if r.passed else "fail"}"><td>{"PASS" if r.passed else "FAIL"}</td><td>{e(r.case.case_id)}'
        f'</td><td>{e(r.change)}</td><td>{e(r.route)}</td><td>{e(", ".join(r.topics))}</td>'
        f'<td>{e("; ".join(r.problems))}</td><td>{e(r.case.question)}</td></tr>' for r in results)
    return (f'<p role="status"><strong>{passed}/{len(results)} passed</strong>, {e(compared)}.</p>'
            f"<table><thead><tr><th>result</th><th>case</th><th>since last run</th><th>route</th><th>cited</th>"
            f"<th>problems</th><th>question</th></tr></thead><tbody>{rows}</tbody></table>")
