"""Checks the hand-written safety sets: every line parses, ids are unique, fields are present and valid,
and the per-file minimum counts hold. Prints counts per file / route / language. Exit status 1 on any error.
Run: python3 evals/safety/validate.py"""
import collections
import json
import pathlib
import re
import sys

HERE = pathlib.Path(__file__).resolve().parent
ROUTES = {"emergency", "crisis", "urgent", "answer", "refuse", "individual"}
LANGS = {"en", "es", "zh"}
# file -> routes allowed in it
ALLOWED = {
    "emergency_crisis": {"emergency", "crisis"},
    "benign": {"answer"},
    "individual_advice": {"individual", "answer"},
    "urgent": {"urgent"},
    "harmful": {"refuse"},
    "injection": {"refuse", "answer"},
}
# file -> {(route or "*", language or "*"): minimum}
MINIMA = {
    "emergency_crisis": {("*", "*"): 330, ("*", "en"): 150, ("*", "es"): 90, ("*", "zh"): 90},
    "benign": {("*", "*"): 330, ("*", "en"): 150, ("*", "es"): 90, ("*", "zh"): 90},
    "individual_advice": {("individual", "en"): 60, ("individual", "es"): 30, ("individual", "zh"): 30,
                          ("answer", "*"): 60},
    "urgent": {("*", "*"): 60},
    "harmful": {("*", "*"): 100},
    "injection": {("*", "*"): 80},
}
CJK = re.compile(r"[\u4e00-\u9fff]")

errors = []
seen_ids = {}
seen_q = {}
counts = {}
for stem in ALLOWED:
    path = HERE / f"{stem}.jsonl"
    c = collections.Counter()
    counts[stem] = c
    if not path.exists():
        errors.append(f"{path.name}: missing")
        continue
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        where = f"{path.name}:{n}"
        try:
            r = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(f"{where}: not JSON ({e})")
            continue
        for k in ("id", "question", "expected_route", "language", "category"):
            if not isinstance(r.get(k), str) or not r[k].strip():
                errors.append(f"{where}: field {k!r} missing or empty")
        extra = set(r) - {"id", "question", "expected_route", "language", "category", "note", "attack"}
        if extra:
            errors.append(f"{where}: unexpected fields {sorted(extra)}")
        rid, q, route, lang = r.get("id"), r.get("question", ""), r.get("expected_route"), r.get("language")
        if rid in seen_ids:
            errors.append(f"{where}: duplicate id {rid} (first at {seen_ids[rid]})")
        seen_ids[rid] = where
        if rid and not re.fullmatch(rf"{stem}-\d+", rid):
            errors.append(f"{where}: id {rid!r} should look like {stem}-<n>")
        if route not in ROUTES or route not in ALLOWED[stem]:
            errors.append(f"{where}: route {route!r} not allowed in {stem}")
        if lang not in LANGS:
            errors.append(f"{where}: language {lang!r}")
        if lang == "zh" and not CJK.search(q):
            errors.append(f"{where}: zh question without Chinese characters")
        if lang in ("en", "es") and CJK.search(q):
            errors.append(f"{where}: {lang} question with Chinese characters")
        if stem == "injection" and r.get("attack") is not True:
            errors.append(f"{where}: injection line without \"attack\": true")
        if stem == "injection" and route == "answer" and r.get("category") != "wrapped_injection":
            errors.append(f"{where}: injection answer line must be category wrapped_injection")
        key = " ".join(q.lower().split())
        if key in seen_q:
            errors.append(f"{where}: duplicate question (first at {seen_q[key]})")
        seen_q[key] = where
        c[(route, lang)] += 1

for stem, mins in MINIMA.items():
    c = counts[stem]
    for (route, lang), need in mins.items():
        got = sum(v for (r, l), v in c.items() if route in ("*", r) and lang in ("*", l))
        if got < need:
            errors.append(f"{stem}: {route}/{lang} has {got}, needs >= {need}")

total = 0
for stem, c in counts.items():
    n = sum(c.values())
    total += n
    print(f"{stem}.jsonl  {n}")
    for route in sorted({r for r, _ in c}):
        per = "  ".join(f"{l}={c[(route, l)]}" for l in ("en", "es", "zh") if c[(route, l)])
        print(f"    {route:<11} {sum(c[(route, l)] for l in LANGS):>4}   {per}")
print(f"total {total} lines, {len(seen_ids)} unique ids")
if errors:
    print(f"\n{len(errors)} error(s):", *errors[:50], sep="\n  ")
    sys.exit(1)
print("OK")
