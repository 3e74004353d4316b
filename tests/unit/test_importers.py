"""Importers: each format becomes a knowledge document marked `origin: imported` that keeps its title, language
and source link; re-imports touch changed documents only; a broken file is reported by path and skipped."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from chatbot.importers import ImportOptions, import_paths
from chatbot.knowledge import chunk_document, load_knowledge, load_library, parse_document

from conftest import topic

DATA = Path(__file__).resolve().parent.parent / "data"
MEDQUAD = Path("/work/shared/data/medquad")
TODAY = datetime.date(2026, 11, 23)
OPTIONS = ImportOptions(TODAY)

PAGE = """<!DOCTYPE html>
<html lang="{lang}">
<head><title>Managing asthma at home | Riverside Clinic</title>
{canonical}
<meta property="og:site_name" content="Riverside Clinic"></head>
<body>
<header><nav><a href="/">Home</a> | <a href="/services">Services</a> | <a href="/contact">Contact us</a>
 | <a href="/book">Book an appointment</a></nav></header>
<div class="cookie-banner">We use cookies to improve your experience. Accept all cookies.</div>
<main><article>
<h1>Managing asthma at home</h1>
<p>Asthma is a long-term condition that makes the airways in your lungs narrow and swollen. With the right plan,
most people with asthma live full and active lives.</p>
<h2>Use your inhalers</h2>
<p>Take your preventer inhaler every day, even when you feel well. Carry your reliever inhaler with you.</p>
<ul><li>Rinse your mouth after the preventer.</li><li>Check the dose counter each week.</li></ul>
<h2>Avoid your triggers</h2>
<p>Common triggers are smoke, dust, pollen, pets and cold air. Keep a diary to learn what sets off your symptoms.</p>
</article></main>
<aside>Related: <a href="/flu">Flu shots</a> <a href="/covid">COVID-19 testing</a></aside>
<footer>Copyright 2026 Riverside Clinic. Privacy policy. Terms of use. Follow us on social media.</footer>
</body></html>
"""
CANONICAL = '<link rel="canonical" href="https://www.riverside-clinic.example/patients/asthma-at-home">'


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def make_pdf(lines: list[str], title: str | None = None) -> bytes:
    """A one-page PDF with a text layer (Helvetica), written by hand: objects, cross-reference table, trailer."""
    def escape(s: str) -> str:
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    content = "BT /F1 11 Tf 14 TL 72 720 Td " + " ".join(f"({escape(line)}) Tj T*" for line in lines) + " ET"
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> "
               "/Contents 5 0 R >>",
               "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
               f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
               f"<< /Title ({escape(title or '')}) >>"]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    info = " /Info 6 0 R" if title else ""
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R{info} >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


LEAFLET = ["Caring for a cold at home", "",
           "Rest and drink plenty of fluids. Most colds get better in about a week without",
           "any medicine from the clinic.",
           "- Wash your hands often so you do not pass the cold on.",
           "Call the clinic if you have a fever for more than three days or find it hard to breathe."]

MEDQUAD_DOC = """<?xml version="1.0" encoding="UTF-8"?>
<Document id="0000042" source="NIDDK" url="http://www.niddk.nih.gov/health-information/kidney-stones">
<Focus>Kidney Stones</Focus>
<QAPairs>
\t<QAPair pid="1">
\t\t\t<Question qid="0000042-1" qtype="information">What is (are) Kidney Stones ?</Question>
\t\t\t<Answer>A kidney stone is a hard piece of material that forms in the kidney.    Drinking enough water helps
 prevent stones:    - Drink water through the day    - Drink more when it is hot</Answer>
\t</QAPair>
\t<QAPair pid="2">
\t\t\t<Question qid="0000042-2" qtype="treatment">What are the treatments for Kidney Stones ?</Question>
\t\t\t<Answer>Small stones often pass on their own with water and pain medicine.</Answer>
\t</QAPair>
\t<QAPair pid="3">
\t\t\t<Question qid="0000042-3" qtype="research">What is the research for Kidney Stones ?</Question>
\t\t\t<Answer></Answer>
\t</QAPair>
</QAPairs>
</Document>
"""
MEDQUAD_NO_ANSWERS = """<?xml version="1.0" encoding="UTF-8"?>
<Document id="0000056" source="NIDDK" url="http://www.niddk.nih.gov/health-information/feet">
<Focus>Keep your feet healthy</Focus>
<QAPairs>
</QAPairs>
</Document>
"""


def run(paths: list[Path], tmp_path: Path, options: ImportOptions = OPTIONS, reserved=()):
    return import_paths(paths, tmp_path / "imported", options, reserved)


def stored(tmp_path: Path, relative: str):
    return parse_document(tmp_path / "imported" / relative)


# ---------------------------------------------------------------------------------------------- HTML
def test_html_keeps_the_main_text_and_drops_navigation_and_boilerplate(tmp_path: Path) -> None:
    page = write(tmp_path / "in" / "asthma-at-home.html", PAGE.format(lang="en-US", canonical=CANONICAL))
    report = run([page], tmp_path)
    assert (report.added, report.skipped) == (["en/riverside-clinic-example-asthma-at-home"], [])
    doc = stored(tmp_path, "en/riverside-clinic-example-asthma-at-home.md")
    assert doc.origin == "imported" and doc.title == "Managing asthma at home"
    assert doc.sources[0].url == "https://www.riverside-clinic.example/patients/asthma-at-home"
    assert doc.sources[0].publisher == "Riverside Clinic"
    assert [c.section for c in chunk_document(doc)] == ["Managing asthma at home", "Use your inhalers",
                                                          "Avoid your triggers"]
    assert "Rinse your mouth after the preventer." in doc.body and "Keep a diary" in doc.body
    for boilerplate in ("Book an appointment", "cookies", "Privacy policy", "Flu shots", "social media"):
        assert boilerplate not in doc.body
    assert (doc.last_reviewed, doc.review_due) == (TODAY, datetime.date(2027, 11, 23))


def test_html_language_comes_from_the_page(tmp_path: Path) -> None:
    page = write(tmp_path / "in" / "asma.html", PAGE.format(lang="es", canonical=CANONICAL))
    assert run([page], tmp_path).added == ["es/riverside-clinic-example-asma"]


def test_a_page_without_a_link_needs_a_source_url(tmp_path: Path) -> None:
    page = write(tmp_path / "in" / "asthma.html", PAGE.format(lang="en", canonical=""))
    report = run([page], tmp_path)
    assert report.added == [] and len(report.skipped) == 1
    assert str(report.skipped[0]) == f"{page}: has no https source link: give --source-url (or the page's " \
                                     f"canonical link)"
    report = run([page], tmp_path, ImportOptions(TODAY, "https://clinic.example.org/asthma", "Clinic"))
    assert report.added == ["en/clinic-example-org-asthma"]
    assert stored(tmp_path, "en/clinic-example-org-asthma.md").sources[0].publisher == "Clinic"


def test_a_page_with_no_main_text_is_skipped(tmp_path: Path) -> None:
    page = write(tmp_path / "in" / "menu.html", "<html><body><nav><a href='/'>Home</a></nav></body></html>")
    [problem] = run([page], tmp_path).skipped
    assert problem.path == str(page) and "no main text" in problem.reason


# ---------------------------------------------------------------------------------------------- PDF
def test_pdf_leaflet_text_title_and_link(tmp_path: Path) -> None:
    leaflet = write(tmp_path / "in" / "cold.pdf", make_pdf(LEAFLET, title="Caring for a cold at home"))
    report = run([leaflet], tmp_path, ImportOptions(TODAY, "https://clinic.example.org/leaflets", "Our Clinic"))
    assert report.added == ["en/clinic-example-org-cold"] and not report.skipped
    doc = stored(tmp_path, "en/clinic-example-org-cold.md")
    assert (doc.title, doc.sources[0].url, doc.sources[0].publisher) == (
        "Caring for a cold at home", "https://clinic.example.org/leaflets", "Our Clinic")
    assert "Most colds get better in about a week without any medicine from the clinic." in doc.body
    assert "- Wash your hands often" in doc.body
    assert doc.body.count("Caring for a cold at home") == 1  # the title line is the heading, not repeated text


def test_pdf_without_a_title_uses_its_first_line(tmp_path: Path) -> None:
    leaflet = write(tmp_path / "in" / "cold.pdf", make_pdf(LEAFLET))
    run([leaflet], tmp_path, ImportOptions(TODAY, "https://clinic.example.org/leaflets"))
    assert stored(tmp_path, "en/clinic-example-org-cold.md").title == "Caring for a cold at home"


@pytest.mark.parametrize("data, reason", [(b"%PDF-1.4\nthis is not really a pdf", "is not a readable PDF"),
                                          (make_pdf([]), "has no text layer")])
def test_unreadable_pdfs_are_skipped_with_a_reason(tmp_path: Path, data: bytes, reason: str) -> None:
    leaflet = write(tmp_path / "in" / "bad.pdf", data)
    [problem] = run([leaflet], tmp_path, ImportOptions(TODAY, "https://clinic.example.org/x")).skipped
    assert problem.path == str(leaflet) and reason in problem.reason and "\n" not in str(problem)


# ---------------------------------------------------------------------------------------------- MedlinePlus XML
def test_medlineplus_topics_keep_language_link_and_aliases(tmp_path: Path) -> None:
    sample = DATA / "medlineplus_health_topics_sample.xml"
    report = run([sample], tmp_path)
    assert report.added == ["en/medlineplus-shingles", "es/medlineplus-shingles"]
    [problem] = report.skipped
    assert "Broken Record" in problem.path and problem.reason == "has no title or url"
    shingles = stored(tmp_path, "en/medlineplus-shingles.md")
    assert (shingles.title, shingles.sources[0].url, shingles.sources[0].publisher) == (
        "Shingles", "https://medlineplus.gov/shingles.html", "MedlinePlus")
    assert shingles.summary.startswith("Shingles is a painful rash")
    assert shingles.aliases == ("Herpes zoster", "Zoster", "Zona")
    assert "- Burning or tingling pain on one side of the body" in shingles.body
    assert "chickenpox" in shingles.body and "<a" not in shingles.body
    assert "NIH: National Institute" not in shingles.body  # the attribution line is not guidance
    culebrilla = stored(tmp_path, "es/medlineplus-shingles.md")
    assert culebrilla.language == "es" and culebrilla.title == "Culebrilla"
    assert culebrilla.sources[0].url == "https://medlineplus.gov/spanish/shingles.html"


# ---------------------------------------------------------------------------------------------- MedQuAD XML
def test_medquad_questions_become_sections(tmp_path: Path) -> None:
    doc_path = write(tmp_path / "in" / "0000042.xml", MEDQUAD_DOC)
    report = run([doc_path], tmp_path)
    assert report.added == ["en/medquad-niddk-0000042"]
    doc = stored(tmp_path, "en/medquad-niddk-0000042.md")
    assert doc.title == "Kidney Stones"
    assert doc.sources[0].url == "https://www.niddk.nih.gov/health-information/kidney-stones"  # upgraded to https
    assert doc.sources[0].publisher == "NIDDK (NIH)"
    chunks = chunk_document(doc)
    assert [c.section for c in chunks] == ["What is (are) Kidney Stones ?", "What are the treatments for Kidney Stones ?"]
    assert "- Drink water through the day\n\n- Drink more when it is hot" in chunks[0].text


def test_medquad_without_answers_and_other_xml_are_skipped(tmp_path: Path) -> None:
    empty = write(tmp_path / "in" / "0000056.xml", MEDQUAD_NO_ANSWERS)
    other = write(tmp_path / "in" / "feed.xml", "<rss><channel><title>News</title></channel></rss>")
    broken = write(tmp_path / "in" / "broken.xml", "<Document id='1'><Focus>Half a file")
    good = write(tmp_path / "in" / "0000042.xml", MEDQUAD_DOC)
    report = run([tmp_path / "in"], tmp_path)
    assert report.added == ["en/medquad-niddk-0000042"], "the rest goes in"
    reasons = {Path(p.path).name: p.reason for p in report.skipped}
    assert reasons["0000056.xml"] == "has no answered questions"
    assert reasons["feed.xml"].startswith("is neither MedlinePlus health-topics nor MedQuAD XML")
    assert reasons["broken.xml"].startswith("is not well-formed XML")
    assert good.exists()


@pytest.mark.skipif(not (MEDQUAD / "9_CDC_QA").is_dir(),
                    reason="MedQuAD is not at /work/shared/data/medquad (see its SOURCE.txt); the real-data check needs it")
def test_real_medquad_folder_imports_and_loads(tmp_path: Path) -> None:
    report = run([MEDQUAD / "9_CDC_QA"], tmp_path)
    files = len(list((MEDQUAD / "9_CDC_QA").glob("*.xml")))
    assert len(report.added) + len(report.skipped) == files and len(report.added) >= files - 3
    assert all(p.reason == "has no answered questions" for p in report.skipped)  # the upstream data has a few
    library = load_knowledge(tmp_path / "imported")
    assert not library.problems and len(library.documents) == len(report.added)
    assert all(d.origin == "imported" and d.sources[0].url.startswith("https://www.cdc.gov/") for d in library.documents)


# ---------------------------------------------------------------------------------------------- Markdown in our format
def test_markdown_folder_is_imported_as_imported_material(tmp_path: Path) -> None:
    clinic = tmp_path / "clinic"
    write(clinic / "en" / "wound-care.md", topic("wound-care", "Wound care", "en", {
        "What to do": "Keep the wound clean and dry. Change the dressing every day."}, reviewed="2026-06-01",
        due="2027-06-01"))
    write(clinic / "en" / "fever.md", topic("fever", "Fever", "en", {"What it is": "A high temperature."}))
    write(clinic / "en" / "notes.txt", "not a topic")
    report = run([clinic], tmp_path, reserved={("en", "fever")})
    assert report.added == ["en/wound-care"]
    [problem] = report.skipped
    assert problem.path == str(clinic / "en" / "fever.md") and "curated topic" in problem.reason
    doc = stored(tmp_path, "en/wound-care.md")
    assert doc.origin == "imported" and doc.last_reviewed == datetime.date(2026, 6, 1)  # its own review dates
    assert doc.sources[0].url == "https://medlineplus.gov/wound-care.html"


def test_a_broken_markdown_file_is_reported_by_path_and_field(tmp_path: Path) -> None:
    bad = write(tmp_path / "clinic" / "en" / "bad.md", topic("bad", "Bad", "en", {"X": "text"},
                                                            url="http://example.com/bad"))
    [problem] = run([tmp_path / "clinic"], tmp_path).skipped
    assert str(problem) == f"{bad}: sources[0].url: must be an https:// link"


# ---------------------------------------------------------------------------------------------- re-import
def test_reimport_updates_changed_documents_only(tmp_path: Path) -> None:
    source = tmp_path / "in"
    write(source / "0000042.xml", MEDQUAD_DOC)
    write(source / "0000043.xml", MEDQUAD_DOC.replace('id="0000042"', 'id="0000043"')
          .replace("Kidney Stones", "Bladder Stones"))
    first = run([source], tmp_path)
    assert first.summary() == "2 added, 0 updated, 0 unchanged, 0 skipped"
    later = ImportOptions(TODAY + datetime.timedelta(days=30))
    assert run([source], tmp_path, later).summary() == "0 added, 0 updated, 2 unchanged, 0 skipped"
    assert stored(tmp_path, "en/medquad-niddk-0000042.md").last_reviewed == TODAY  # untouched file, same date
    write(source / "0000042.xml", MEDQUAD_DOC.replace("pass on their own", "often pass on their own"))
    write(source / "0000044.xml", MEDQUAD_DOC.replace('id="0000042"', 'id="0000044"'))
    again = run([source], tmp_path, later)
    assert again.summary() == "1 added, 1 updated, 1 unchanged, 0 skipped"
    assert (again.added, again.updated) == (["en/medquad-niddk-0000044"], ["en/medquad-niddk-0000042"])
    assert stored(tmp_path, "en/medquad-niddk-0000042.md").last_reviewed == later.today


def test_the_same_document_twice_in_one_run_is_reported(tmp_path: Path) -> None:
    a = write(tmp_path / "a" / "0000042.xml", MEDQUAD_DOC)
    b = write(tmp_path / "b" / "0000042.xml", MEDQUAD_DOC)
    report = run([a, b], tmp_path)
    assert report.added == ["en/medquad-niddk-0000042"]
    assert [str(p) for p in report.skipped] == [f"{b}: 'en/medquad-niddk-0000042' was already imported from {a}"]


def test_unsupported_and_missing_files_are_reported(tmp_path: Path) -> None:
    text = write(tmp_path / "notes.docx", b"PK")
    report = run([text, tmp_path / "missing.html"], tmp_path)
    assert [p.reason for p in report.skipped] == ["is not a supported file (.md, .html, .htm, .pdf, .xml)",
                                                  "does not exist"]


# ---------------------------------------------------------------------------------------------- loading
def test_imported_documents_load_beside_the_curated_ones(tmp_path: Path, tiny_knowledge: Path) -> None:
    run([DATA / "medlineplus_health_topics_sample.xml", write(tmp_path / "in" / "0000042.xml", MEDQUAD_DOC)], tmp_path)
    library = load_library([tiny_knowledge, tmp_path / "imported"])
    assert not library.problems
    origins = {(d.language, d.doc_id): d.origin for d in library.documents}
    assert origins[("en", "fever")] == "curated"
    assert origins[("en", "medlineplus-shingles")] == origins[("es", "medlineplus-shingles")] == "imported"
    kidney = next(d for d in library.documents if d.doc_id == "medquad-niddk-0000042")
    assert all(c.origin == "imported" and c.sources == kidney.sources for c in chunk_document(kidney))


def test_a_library_surprise_on_one_file_skips_that_file_only(tmp_path: Path, monkeypatch) -> None:
    import chatbot.importers

    def surprise(path, options):
        raise RuntimeError("deep inside a parser")

    monkeypatch.setattr(chatbot.importers, "_html", surprise)
    page = write(tmp_path / "in" / "odd.html", "<html></html>")
    good = write(tmp_path / "in" / "0000042.xml", MEDQUAD_DOC)
    with pytest.raises(RuntimeError):  # under tests (CHATBOT_RAISE_ERRORS) unexpected errors surface
        run([page, good], tmp_path)
    monkeypatch.delenv("CHATBOT_RAISE_ERRORS")
    report = run([page, good], tmp_path)
    assert report.added == ["en/medquad-niddk-0000042"]
    assert [str(p) for p in report.skipped] == [f"{page}: could not be read (RuntimeError)"]
