"""The identifier scrubber: every Safe Harbor type in en/es/zh, health numbers left alone, the labelled sets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatbot.privacy import scrub

SETS = Path(__file__).resolve().parents[2] / "evals" / "privacy"

CASES = [  # (text, the identifier that must go, the placeholder that replaces it)
    ("Hi, my name is Marisol Quintanilla. What helps a fever?", "Quintanilla", "[NAME]"),
    ("Dr. Abernathy told me to rest.", "Abernathy", "[NAME]"),
    ("My daughter Ivy Brannigan has a cough.", "Brannigan", "[NAME]"),
    ("I live at 742 Evergreen Terrace, Millbrook.", "Evergreen", "[ADDRESS]"),
    ("I live in Cedar Falls and need a flu shot.", "Cedar Falls", "[LOCATION]"),
    ("Springfield, IL 62704", "62704", "[ZIP]"),
    ("I was born on 03/14/1962.", "03/14/1962", "[DATE]"),
    ("My visit was March 14, 2024.", "March 14", "[DATE]"),
    ("My grandmother is 93 years old.", "93", "[AGE]"),
    ("Call me at (415) 555-0142.", "555-0142", "[PHONE]"),
    ("Fax it to 212-555-0199 please.", "555-0199", "[FAX]"),
    ("Write to m.quint42@example.com", "example.com", "[EMAIL]"),
    ("My SSN is 912-34-5678.", "5678", "[SSN]"),
    ("My MRN is 48213377.", "48213377", "[MRN]"),
    ("Insurance member ID W12345678.", "W12345678", "[HEALTH_PLAN]"),
    ("Account number 4455667788 was charged.", "4455667788", "[ACCOUNT]"),
    ("Driver's license D123-4567-8901.", "D123", "[LICENSE]"),
    ("License plate 7ABC123.", "7ABC123", "[VEHICLE]"),
    ("The pump serial number is SN44712345.", "SN44712345", "[DEVICE]"),
    ("See https://portal.example.org/patient/881234", "portal", "[URL]"),
    ("I connected from 203.0.113.57.", "203.0.113.57", "[IP]"),
    ("I connected from 2001:db8::1f.", "2001:db8::1f", "[IP]"),
    ("My claim number is CL123456789.", "CL123456789", "[ID]"),
    ("Me llamo Teodoro Quiroga y tengo fiebre.", "Quiroga", "[NAME]"),
    ("Vivo en Calle Olmo 221, Zapopan.", "Olmo", "[ADDRESS]"),
    ("Nací el 14 de marzo de 1962.", "marzo", "[DATE]"),
    ("Mi número de expediente es 88123456.", "88123456", "[MRN]"),
    ("Mi póliza es MX-778812.", "778812", "[HEALTH_PLAN]"),
    ("我叫王小明，感冒了。", "王小明", "[NAME]"),
    ("李医生说我要多喝水。", "李", "[NAME]"),
    ("我住在北京市朝阳区建国路88号3单元402室。", "建国路", "[ADDRESS]"),
    ("我的手机是13812345678。", "13812345678", "[PHONE]"),
    ("病历号是ZY20240318。", "ZY20240318", "[MRN]"),
    ("设备编号TZ2376-I722。", "TZ2376", "[DEVICE]"),
    ("我是1962年3月14日出生的。", "3月14日", "[DATE]"),
]


@pytest.mark.parametrize(("text", "identifier", "placeholder"), CASES)
def test_an_identifier_becomes_its_placeholder(text: str, identifier: str, placeholder: str) -> None:
    scrubbed = scrub(text)
    assert identifier not in scrubbed, scrubbed
    assert placeholder in scrubbed, scrubbed


@pytest.mark.parametrize("text", [
    "My blood pressure was 130/80 this morning. Is that high?",
    "I take 500 mg of metformin twice a day and I am 45 years old.",
    "I have had asthma since 2010. My A1C went from 7.2 to 6.8.",
    "Is 10,000 steps a day enough? I had COVID-19 and H1N1.",
    "Tomo 850 mg de metformina. Tengo 52 años.",
    "孩子3岁，发烧38.5度怎么办？",
    "How can I lower my blood pressure?",
])
def test_health_numbers_and_plain_questions_are_left_alone(text: str) -> None:
    assert scrub(text) == text


def test_scrubbing_twice_changes_nothing_more() -> None:
    text = "Hi, I'm Derek Vorhees, MRN 48213377, born 03/14/1962, cell (415) 555-0142."
    once = scrub(text)
    assert scrub(once) == once
    assert scrub("") == ""


def _records(name: str) -> list[dict]:
    return [json.loads(line) for line in (SETS / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("name", ["dev", "heldout"])
def test_recall_on_the_labelled_sets_reaches_95_percent(name: str) -> None:
    records = _records(name)
    total = caught = 0
    for record in records:
        scrubbed = scrub(record["text"])
        for identifier in record["identifiers"]:
            total += 1
            caught += identifier["value"] not in scrubbed
    assert total > 400 and caught / total >= 0.95, f"{caught}/{total}"


def test_the_labelled_sets_cover_every_identifier_type_in_three_languages() -> None:
    records = _records("dev") + _records("heldout")
    types = {i["type"] for r in records for i in r["identifiers"]}
    assert types >= {"NAME", "ADDRESS", "DATE", "AGE", "PHONE", "FAX", "EMAIL", "SSN", "MRN", "HEALTH_PLAN",
                     "ACCOUNT", "LICENSE", "VEHICLE", "DEVICE", "URL", "IP", "ID", "ZIP"}
    assert {r["lang"] for r in records} == {"en", "es", "zh"}


@pytest.mark.parametrize("log_text", [False, True])
def test_the_app_logs_text_only_when_asked_and_then_scrubbed(make_pipeline, caplog, log_text: bool) -> None:
    from fastapi.testclient import TestClient

    from chatbot.web import create_app

    pipeline = make_pipeline(log_text=log_text)
    client = TestClient(create_app(pipeline.settings, pipeline, warm=False))
    question = "Hi, I'm Derek Vorhees, MRN 48213377, cell (415) 555-0142. What helps a fever?"
    with caplog.at_level("DEBUG"):
        assert client.post("/api/v1/chat", json={"question": question}).status_code == 200
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "Vorhees" not in logged and "48213377" not in logged and "555-0142" not in logged
    assert ("question=\"Hi, I'm [NAME], MRN [MRN], cell [PHONE]." in logged) == log_text, logged
