"""OCR (images, scanned PDFs) and the formats read through LibreOffice and pandoc, on files
the tests make themselves; then on unstructured's example documents when they are here.

The tools are Debian packages that scripts/bootstrap installs (dev extra); a test that needs
one skips, naming the package, when it is missing.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ragkit import RAG, ParseError, Settings
from ragkit._types import Document
from ragkit.ingestion import convert, ocr
from ragkit.ingestion.parse import parse_file, supported, unavailable

from .conftest import ROOT

LANGUAGES = ["eng", "zho"]
EXAMPLES = ROOT.parent / "shared" / "data" / "unstructured-example-docs"
ENGLISH = ["Quarterly report of the alpaca farm",
           "Shearing season starts in April and the fleece",
           "weighs about three kilograms per animal."]
CHINESE = ["这份报告介绍了农场的情况。", "北京的天气很冷，上海比较暖和。"]


def needs(*tools: convert.Tool) -> pytest.MarkDecorator:
    missing = [t.hint() for t in tools if t.path() is None]
    return pytest.mark.skipif(bool(missing), reason=f"needs {'; '.join(missing)}")


def parse(path: Path) -> Document:
    return parse_file(path, source=str(path), doc_id="x" * 64, languages=LANGUAGES)


def text_of(doc: Document) -> str:
    return "\n".join(b.text for b in doc.blocks)


def _font(family: str) -> str:
    out = subprocess.run(["fc-match", "-f", "%{file}", family], capture_output=True, text=True,
                         check=False)
    if out.returncode != 0 or not Path(out.stdout).is_file():
        pytest.skip(f"no {family} font (apt-get install fonts-dejavu-core fonts-wqy-zenhei)")
    return out.stdout


def render(lines: list[tuple[str, str]]) -> object:
    """A white page with ``(text, "en"|"zh")`` lines in black, as a scanner would give it."""
    from PIL import Image, ImageDraw, ImageFont

    fonts = {"en": ImageFont.truetype(_font("DejaVu Sans"), 40),
             "zh": ImageFont.truetype(_font("WenQuanYi Zen Hei"), 44)}
    image = Image.new("RGB", (1700, 200 + 75 * len(lines)), "white")
    draw = ImageDraw.Draw(image)
    for i, (text, lang) in enumerate(lines):  # a gap after the title and after line 3
        y = 60 + 75 * i + (50 if i >= 1 else 0) + (50 if i >= 3 else 0)
        draw.text((60, y), text, font=fonts[lang], fill="black")
    return image


@pytest.fixture(scope="module")
def page_image() -> object:
    return render([(t, "en") for t in ENGLISH] + [(t, "zh") for t in CHINESE])


@needs(convert.TESSERACT)
class TestOcrImage:
    def test_english_and_chinese_text_of_a_png(self, page_image, tmp_path: Path) -> None:
        path = tmp_path / "report.png"
        page_image.save(path)
        doc = parse(path)
        text = text_of(doc)
        assert "Shearing season starts in April" in text
        assert "北京的天气很冷，上海比较暖和。" in text  # no spaces put between characters
        assert {b.page for b in doc.blocks} == {1}
        assert doc.blocks[0].kind == "Title" and "alpaca farm" in doc.blocks[0].text

    def test_jpeg_and_a_multi_page_tiff_keep_their_pages(self, page_image,
                                                         tmp_path: Path) -> None:
        page_image.convert("L").save(tmp_path / "scan.jpg", quality=90)
        assert "three kilograms" in text_of(parse(tmp_path / "scan.jpg"))
        second = render([("Page two is about the llama barn.", "en")])
        page_image.save(tmp_path / "two.tiff", save_all=True, append_images=[second])
        doc = parse(tmp_path / "two.tiff")
        pages = {b.page for b in doc.blocks if "llama barn" in b.text}
        assert pages == {2}
        assert {b.page for b in doc.blocks if "alpaca" in b.text} == {1}

    def test_an_image_without_text_is_reported(self, tmp_path: Path) -> None:
        from PIL import Image

        Image.new("RGB", (400, 300), "white").save(tmp_path / "blank.png")
        with pytest.raises(ParseError, match="no text found"):
            parse(tmp_path / "blank.png")

    def test_a_broken_image_is_reported_in_one_line(self, tmp_path: Path) -> None:
        (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + random.randbytes(500))
        with pytest.raises(ParseError, match="Tesseract OCR failed") as info:
            parse(tmp_path / "broken.png")
        assert "\n" not in str(info.value)


@needs(convert.TESSERACT)
class TestScannedPdf:
    def test_a_scanned_pdf_is_read_page_by_page(self, page_image, tmp_path: Path) -> None:
        second = render([("Page two is about the llama barn.", "en")])
        path = tmp_path / "scan.pdf"
        page_image.save(path, save_all=True, append_images=[second], resolution=150)
        doc = parse(path)
        assert {b.page for b in doc.blocks if "Shearing season" in b.text} == {1}
        assert {b.page for b in doc.blocks if "llama barn" in b.text} == {2}
        assert "上海比较暖和" in text_of(doc)

    def test_a_pdf_with_a_text_layer_is_not_ocred(self, monkeypatch, tmp_path: Path) -> None:
        sys.path.insert(0, str(ROOT / "scripts"))
        from make_samples import make_pdf

        path = tmp_path / "text.pdf"
        path.write_bytes(make_pdf([["Volcanoes", "Lava cools into basalt."]]))

        def no_ocr(*args: object) -> None:
            raise AssertionError("OCR was run on a PDF with a text layer")

        monkeypatch.setattr(ocr, "ocr_pdf_pages", no_ocr)
        assert "Lava cools into basalt." in text_of(parse(path))

    def test_without_tesseract_a_scanned_pdf_names_the_package(self, page_image, monkeypatch,
                                                               tmp_path: Path) -> None:
        path = tmp_path / "scan.pdf"
        page_image.save(path, resolution=150)
        monkeypatch.setenv("PATH", str(tmp_path / "empty"))
        with pytest.raises(ParseError, match=r"scanned PDF \(no text layer\); .*apt-get "
                           r"install tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim"):
            parse(path)


@pytest.mark.slow
@needs(convert.TESSERACT)
def test_retrieval_finds_ocred_text(page_image, embedder, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    page_image.save(docs / "farm.png")
    render([("The museum opens at nine on weekdays.", "en")]).save(docs / "museum.pdf",
                                                                   resolution=150)
    rag = RAG(tmp_path / "kb", settings=Settings(workers=0), embedder=embedder)
    report = rag.ingest(docs)
    assert report.ok and len(report.ingested) == 2, report.failures
    hits = rag.retrieve("When does the shearing season start?", k=1, mode="dense")
    assert Path(hits[0].chunk.source).name == "farm.png"
    hits = rag.retrieve("museum opening hours", k=1, mode="bm25")
    assert Path(hits[0].chunk.source).name == "museum.pdf"
    assert hits[0].chunk.page == 1


# -- LibreOffice and pandoc ---------------------------------------------------------------
def _docx(path: Path) -> Path:
    import docx

    d = docx.Document()
    d.add_heading("Tea history", 1)
    d.add_paragraph("Oolong tea comes from the mountains of Fujian. 乌龙茶产自福建。")
    table = d.add_table(rows=2, cols=2)
    for r, row in enumerate([["Tea", "Origin"], ["Oolong", "Fujian"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    d.save(path)
    return path


def soffice_to(source: Path, target: str, out: Path) -> Path:
    """``source`` saved as ``target`` by LibreOffice (how a user's legacy file came to be)."""
    with convert.soffice_converted(source, convert.WRITER, target) as made:
        return Path(shutil.copy(made, out / made.name))


@pytest.fixture(scope="module")
def legacy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """tea.doc, tea.rtf, tea.odt (LibreOffice) and tea.epub (pandoc), from one DOCX."""
    if convert.WRITER.path() is None or convert.PANDOC.path() is None:
        pytest.skip(f"needs {convert.WRITER.hint()} and {convert.PANDOC.hint()}")
    folder = tmp_path_factory.mktemp("legacy")
    (folder / "source").mkdir()
    source = _docx(folder / "source" / "tea.docx")
    out = {s: soffice_to(source, s, folder) for s in ("rtf", "odt")}
    # from the ODT: LibreOffice 7.4 drops python-docx's bare table when it writes DOCX as .doc
    out["doc"] = soffice_to(out["odt"], "doc", folder)
    subprocess.run(["pandoc", str(source), "-o", str(folder / "tea.epub"),
                    "--metadata", "title=Tea"], check=True, timeout=60)
    out["epub"] = folder / "tea.epub"
    return out


@pytest.mark.slow
class TestConverted:
    @pytest.mark.parametrize("kind", ["doc", "rtf", "odt", "epub"])
    def test_text_heading_and_table_survive(self, legacy: dict[str, Path], kind: str) -> None:
        doc = parse(legacy[kind])
        text = text_of(doc)
        assert "Oolong tea comes from the mountains of Fujian." in text
        assert "乌龙茶产自福建。" in text
        tables = [b.text for b in doc.blocks if b.kind == "Table"]
        assert tables and "Oolong | Fujian" in tables[0]
        if kind != "rtf":  # LibreOffice writes the heading as plain bold text in RTF
            para = next(b for b in doc.blocks if "Oolong tea comes" in b.text)
            assert para.section.endswith("Tea history")

    def test_retrieval_finds_text_of_a_doc_file(self, legacy: dict[str, Path], embedder,
                                                tmp_path: Path) -> None:
        rag = RAG(tmp_path / "kb", settings=Settings(workers=0), embedder=embedder)
        report = rag.ingest(legacy["doc"])
        assert report.ok and report.ingested, report.failures
        hits = rag.retrieve("Where does oolong tea come from?", k=1)
        assert hits and "Fujian" in hits[0].chunk.text


def _fake_tool(tmp_path: Path, script: str, component: str = "writer.xcd") -> Path:
    """A ``bin`` folder whose ``soffice`` and ``tesseract`` run ``script`` (a LibreOffice
    layout around it, so the component check passes); returns the folder."""
    program = tmp_path / "lo" / "program"
    program.mkdir(parents=True)
    (tmp_path / "lo" / "share" / "registry").mkdir(parents=True)
    (tmp_path / "lo" / "share" / "registry" / component).touch()
    exe = program / "soffice"
    exe.write_text("#!/bin/sh\n" + script)
    exe.chmod(0o755)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "soffice").symlink_to(exe)
    (bin_dir / "tesseract").symlink_to(exe)
    return bin_dir


class TestToolFailures:
    def test_missing_tools_name_their_packages(self, monkeypatch, tmp_path: Path) -> None:
        monkeypatch.setenv("PATH", str(tmp_path))  # nothing on it
        assert unavailable(tmp_path / "a.doc") == (
            ".doc needs LibreOffice Writer: apt-get install libreoffice-writer-nogui")
        assert unavailable(tmp_path / "a.xls") == (
            ".xls needs LibreOffice Calc: apt-get install libreoffice-calc-nogui")
        assert unavailable(tmp_path / "a.epub") == ".epub needs pandoc: apt-get install pandoc"
        assert unavailable(tmp_path / "a.rtf") == (
            ".rtf needs LibreOffice Writer: apt-get install libreoffice-writer-nogui "
            "(or pandoc: apt-get install pandoc)")
        assert unavailable(tmp_path / "a.PNG") == (
            ".png needs Tesseract OCR: apt-get install tesseract-ocr tesseract-ocr-eng "
            "tesseract-ocr-chi-sim")
        assert unavailable(tmp_path / "a.pdf") is None  # scans are found when parsed
        assert unavailable(tmp_path / "a.xyz") == "unsupported file type '.xyz'"

    def test_only_the_installed_component_counts(self, monkeypatch, tmp_path: Path) -> None:
        monkeypatch.setenv("PATH", str(_fake_tool(tmp_path, "exit 0\n", "writer.xcd")))
        assert unavailable(tmp_path / "a.doc") is None
        assert "libreoffice-impress-nogui" in (unavailable(tmp_path / "a.ppt") or "")

    def test_missing_tool_files_are_skipped_by_ingest(self, monkeypatch, embedder,
                                                      tmp_path: Path) -> None:
        docs = tmp_path / "docs"
        docs.mkdir()
        (docs / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0" + bytes(60))
        (docs / "scan.png").write_bytes(b"\x89PNG")
        (docs / "notes.md").write_text("# Notes\n\nThe barn is red.\n")
        monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
        report = RAG(tmp_path / "kb", settings=Settings(workers=0), embedder=embedder).ingest(docs)
        skipped = {Path(s.path).name: s.reason for s in report.skipped}
        assert skipped == {
            "old.doc": ".doc needs LibreOffice Writer: apt-get install libreoffice-writer-nogui",
            "scan.png": ".png needs Tesseract OCR: apt-get install tesseract-ocr "
                        "tesseract-ocr-eng tesseract-ocr-chi-sim",
        }
        assert report.ok and [Path(p).name for p in report.ingested] == ["notes.md"]

    def test_a_conversion_timeout_is_reported_and_the_tool_killed(self, monkeypatch,
                                                                  tmp_path: Path) -> None:
        pids = tmp_path / "pids"
        bin_dir = _fake_tool(tmp_path, f"sleep 60 &\necho $! > {pids}\nwait\n")
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
        monkeypatch.setattr(convert, "CONVERT_TIMEOUT", 1.0)
        (tmp_path / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0" + bytes(60))
        started = time.monotonic()
        with pytest.raises(ParseError, match=r"LibreOffice Writer did not finish converting "
                           r"\.doc to \.docx in 1 s \(timed out"):
            parse(tmp_path / "old.doc")
        assert time.monotonic() - started < 10
        child = int(pids.read_text())  # the tool's own child went with it
        for _ in range(50):
            if not Path(f"/proc/{child}").exists() or "Z" in _state(child):
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"the tool's child {child} survived the timeout")

    def test_a_failing_tool_gives_its_last_error_line(self, monkeypatch, tmp_path: Path) -> None:
        bin_dir = _fake_tool(tmp_path, "echo 'Error: source file could not be loaded' >&2\n"
                                       "exit 1\n")
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
        (tmp_path / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0" + bytes(60))
        with pytest.raises(ParseError, match=r"LibreOffice Writer failed converting \.doc to "
                           r"\.docx \(exit 1\): Error: source file could not be loaded$"):
            parse(tmp_path / "old.doc")

    def test_no_output_is_a_failure_not_an_empty_document(self, monkeypatch,
                                                          tmp_path: Path) -> None:
        bin_dir = _fake_tool(tmp_path, "exit 0\n")
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
        (tmp_path / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0" + bytes(60))
        with pytest.raises(ParseError, match="could not convert the .doc file to .docx"):
            parse(tmp_path / "old.doc")


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][:1]
    except (OSError, IndexError):
        return "Z"


def test_every_converted_and_image_type_is_supported() -> None:
    assert set(convert.ROUTES) | set(convert.IMAGES) <= set(supported())


# -- formats read in-process since issue 15 ---------------------------------------------------
class TestMoreFormats:
    def test_json_lines_one_record_per_line(self, tmp_path: Path) -> None:
        path = tmp_path / "rows.ndjson"
        path.write_text('{"sku": "A1", "name": "Trowel"}\n\n{"sku": "B2", "城市": "上海"}\n')
        assert [b.text for b in parse(path).blocks] == ["sku: A1\nname: Trowel",
                                                        "sku: B2\n城市: 上海"]
        path.write_text('{"sku": "A1"}\n{"sku": \n')
        with pytest.raises(ParseError, match="invalid JSON on line 2"):
            parse(path)

    def test_xml_text_without_resolving_entities(self, tmp_path: Path) -> None:
        secret = tmp_path / "secret.txt"
        secret.write_text("TOP SECRET VALUE")
        path = tmp_path / "notes.xml"
        path.write_text('<?xml version="1.0"?>\n'
                        f'<!DOCTYPE n [<!ENTITY e SYSTEM "{secret.as_uri()}">]>'
                        "<notes><note><title>Llamas</title><body>Llamas hum when "
                        "they are curious.</body><leak>&e;</leak></note></notes>")
        text = text_of(parse(path))
        assert "Llamas hum when they are curious." in text
        assert "TOP SECRET" not in text

    def test_a_csv_with_ragged_rows_is_a_table(self, tmp_path: Path) -> None:
        path = tmp_path / "ragged.csv"
        path.write_text("Lorem, ipsum\ndolor sit\nUt enim, ad minim, veniam\n")
        doc = parse(path)
        assert [b.text for b in doc.blocks if b.kind == "Table"] == [
            "Lorem | ipsum\ndolor sit\nUt enim | ad minim | veniam"]


# -- unstructured's example documents -------------------------------------------------------
@pytest.mark.slow
@pytest.mark.skipif(not EXAMPLES.is_dir(), reason=f"{EXAMPLES} is absent (the shared data of "
                    "the development machine; see bench/formats_bench.py)")
@needs(convert.TESSERACT, convert.WRITER, convert.CALC, convert.IMPRESS, convert.PANDOC)
@pytest.mark.parametrize(("name", "expected"), [
    ("pdf/loremipsum-flat.pdf", "Lorem ipsum dolor sit amet"),  # a scan: no text layer
    ("img/chi_sim_image.jpeg", "适用人群"),
    ("img/layout-parser-paper-fast.jpg", "LayoutParser"),
    ("fake.doc", "Lorem ipsum dolor sit amet."),
    ("fake-power-point.ppt", "Adding a Bullet Slide"),
    ("tests-example.xls", "What is 2+2?"),
    ("fake-doc.rtf", "Row 1, Cell 1 | Row 1, Cell 2"),
    ("fake.odt", "Header row | Mon | Wed | Fri"),
    ("language-docs/eng_spa_mult.epub", "All human beings are born free and equal"),
    ("fake-email.msg", "This is a test email to use for unit tests."),
])
def test_example_documents(name: str, expected: str) -> None:
    assert expected in text_of(parse(EXAMPLES / name))
