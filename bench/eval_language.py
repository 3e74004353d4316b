"""Language report: detection accuracy per language and message length on real patient questions, and (with
--replies N) whether the real pipeline answers N questions per language in that language.

Data (read in place from ../shared/data, never copied): XLingHealth MedicationQA (the same questions in English,
Spanish, Chinese and Hindi; rows with label 1, one per English question) and native Chinese questions from the
Chinese medical dialogue set. Lengths: the full question, its first five words and its first two words. Chinese
has no spaces: a "word" there is two Han characters (about the average Chinese word), and a Latin or digit run
inside Chinese text counts as one word, so "first five words" is the first ten characters of plain Chinese.

Usage: python bench/eval_language.py [--replies N] [--out bench/results/language.json]
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import re
import sys
import time
from pathlib import Path
from typing import Callable, Iterable

from langdetect import DetectorFactory, detect_langs
from langdetect.lang_detect_exception import LangDetectException

from chatbot import messages
from chatbot.language import detect, reply_language

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
XLING = DATA / "xlinghealth" / "MedicationQA.jsonl"
DIALOGUE = DATA / "chinese-medical-dialogue" / "questions_dev.jsonl"
FIELDS = {"en": "question_English", "es": "question_Spanish", "zh": "question_Chinese", "hi": "question_Hindi"}
LENGTHS = {"full": None, "first_5_words": 5, "first_2_words": 2}
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_UNIT = re.compile(rf"[{_HAN}]|[^\W_{_HAN}]+", re.UNICODE)
UNDECIDED = "und"


def xlinghealth() -> dict[str, list[str]]:
    """The questions of each language, one row per distinct English question (positive rows only)."""
    seen, out = set(), {lang: [] for lang in FIELDS}
    with XLING.open(encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            if row["label"] != 1 or row["question_English"] in seen:
                continue
            seen.add(row["question_English"])
            if all((row.get(field) or "").strip() for field in FIELDS.values()):
                for lang, field in FIELDS.items():
                    out[lang].append(row[field].strip())
    return out


def dialogue() -> list[str]:
    with DIALOGUE.open(encoding="utf-8") as lines:
        return [json.loads(line)["question"].strip() for line in lines if line.strip()]


def first_words(text: str, lang: str, n: int | None) -> str:
    if n is None:
        return text
    if lang != "zh":
        return " ".join(text.split()[:n])
    units, end = 0, 0
    for match in _UNIT.finditer(text):  # a Han character is half a word, a Latin or digit run a whole one
        units += 1 if len(match.group(0)) == 1 and re.match(f"[{_HAN}]", match.group(0)) else 2
        end = match.end()
        if units >= 2 * n:
            break
    return text[:end]


def langdetect_alone(text: str) -> str:
    """The baseline: langdetect's first guess, seeded, with no script rules and no restriction."""
    DetectorFactory.seed = 0
    try:
        return detect_langs(text)[0].lang.split("-")[0]
    except LangDetectException:
        return UNDECIDED


def ours(text: str) -> str:
    """The chatbot's detection of a first message with no conversation and no page locale."""
    return reply_language(text, (), None, default=UNDECIDED)


def accuracy(sets: dict[str, tuple[str, list[str]]], detector: Callable[[str], str]) -> dict:
    report = {}
    for name, (lang, questions) in sets.items():
        report[name] = {"questions": len(questions)}
        for length, n in LENGTHS.items():
            got = collections.Counter(detector(first_words(q, lang, n)) for q in questions)
            report[name][length] = {
                "accuracy": round(got[lang] / len(questions), 4),
                "undecided": round(got[UNDECIDED] / len(questions), 4),
                "read_as": dict(got.most_common(4)),
            }
    return report


# ---------------------------------------------------------------------------------------------- replies
def reply_report(questions: dict[str, list[str]], languages: list[str], n: int, seed: int
                 ) -> tuple[dict, list[dict]]:
    from chatbot.pipeline import Pipeline
    from chatbot.types import Query

    pipeline = Pipeline()
    pipeline.warm_up()
    report, rows = {"retrieval_parity": retrieval_parity(pipeline, questions)}, []
    print("retrieval_parity", json.dumps(report["retrieval_parity"]), flush=True)
    for lang in languages:
        sample = random.Random(seed).sample(questions[lang], min(n, len(questions[lang])))
        started, replies = time.perf_counter(), [pipeline.answer(Query(q)) for q in sample]
        report[lang] = summarize(lang, replies, pipeline.settings)
        report[lang]["seconds"] = round(time.perf_counter() - started, 1)
        rows += [{"lang": lang, "question": r.question, "language": r.language, "route": r.route,
                  "flags": list(r.flags), "answer": r.text} for r in replies]
        print(lang, json.dumps(report[lang], ensure_ascii=False), flush=True)
    return report, rows


def retrieval_parity(pipeline, questions: dict[str, list[str]]) -> dict:
    """The questions are parallel: guidance found for a translation should be the guidance found for the English
    original (topic ids are shared across languages)."""
    from chatbot.normalize import normalize_text

    def top(text: str, lang: str) -> tuple[str | None, str]:
        found = pipeline.retriever.retrieve(normalize_text(text), lang)
        return (found.passages[0].chunk.doc_id if found.relevant else None), found.language

    english = [top(q, "en")[0] for q in questions["en"]]
    report = {}
    for lang, pool in questions.items():
        got = [top(q, lang) for q in pool]
        both = [(e, g) for e, (g, _) in zip(english, got) if e and g]
        report[lang] = {
            "relevant": _share(g is not None for g, _ in got),
            "from_english_guidance": _share(g is not None and used != lang for g, used in got),
            "same_topic_as_english": _share(e == g for e, g in both),
            "relevant_where_english_is_not": _share(g is not None for e, (g, _) in zip(english, got) if not e),
        }
    return report


def summarize(lang: str, replies: Iterable, settings) -> dict:
    replies = list(replies)
    notice = messages.message("english_source", lang, settings)
    no_answer = messages.message("no_answer", lang, settings)
    answered = [r for r in replies if r.route in ("answer", "fallback")]
    english = [r for r in answered if "english_source" in r.flags]
    own = [r for r in answered if "english_source" not in r.flags]
    body_lang = collections.Counter(detect(r.text) or UNDECIDED for r in own)
    return {
        "questions": len(replies),
        "routes": dict(collections.Counter(r.route for r in replies)),
        "language_field_match": _share(r.language == lang for r in replies),
        # a reply with nothing shown: the patient sees an empty bubble
        "empty_answers": sum(not r.text.strip() for r in answered),
        # answered from guidance in the patient's language: is the text in that language?
        "own_language_answers": len(own),
        "own_language_text_match": _share(detect(r.text) == lang for r in own if r.text.strip()),
        "own_language_text_read_as": dict(body_lang.most_common(4)),
        # answered from English guidance: does the reply say so, in the patient's language?
        "english_source_answers": len(english),
        "english_source_notice_in_language": _share(r.text.startswith(notice) for r in english),
        "no_answer_in_language": _share(r.text.endswith(no_answer) for r in replies if r.route == "no_answer"),
    }


def _share(flags: Iterable[bool]) -> float | None:
    flags = list(flags)
    return round(sum(flags) / len(flags), 4) if flags else None


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--replies", type=int, default=0, help="questions per language for the real pipeline")
    parser.add_argument("--languages", default="en,es,zh,hi", help="languages for --replies")
    parser.add_argument("--out", type=Path, default=Path("bench/results/language.json"))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if not XLING.exists():
        print(f"XLingHealth data not found at {XLING}; nothing to measure.")
        return 0
    questions = xlinghealth()
    sets = {f"xlinghealth_{lang}": (lang, qs) for lang, qs in questions.items()}
    if DIALOGUE.exists():
        sets["chinese_medical_dialogue_zh"] = ("zh", dialogue())
    result = {"detection": {"chatbot": accuracy(sets, ours), "langdetect_alone": accuracy(sets, langdetect_alone)},
              "notes": {"lengths": "full question; first 5 and first 2 words (Chinese: a word is 2 Han characters, "
                                   "a Latin or digit run 1 word)",
                        "chatbot": "a first message: no conversation, no page locale; undecided counts as wrong"}}
    print(json.dumps({k: {n: {length: v[length]["accuracy"] for length in LENGTHS} for n, v in d.items()}
                      for k, d in result["detection"].items()}, indent=1))
    if args.replies:
        result["replies"], rows = reply_report(questions, args.languages.split(","), args.replies, args.seed)
        # the questions belong to the data set: the committed report keeps the figures, the replies go to /tmp
        Path("/tmp/language_replies.json").write_text(json.dumps(rows, indent=1, ensure_ascii=False))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.out.exists() and not args.replies:  # keep the last reply figures when only detection is re-run
        result["replies"] = json.loads(args.out.read_text(encoding="utf-8")).get("replies")
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
