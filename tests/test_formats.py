"""The extra formats of ragkit.ingestion.formats, on small files the tests write themselves."""

from __future__ import annotations

import csv
import json
from email.message import EmailMessage
from pathlib import Path

import pytest

from ragkit import ParseError
from ragkit._types import Document
from ragkit.ingestion import formats
from ragkit.ingestion._spacy import use_bundled_spacy_model
from ragkit.ingestion.parse import parse_file

LANGUAGES = ["eng", "zho"]
#: one PNG pixel, enough for a real image attachment
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


def parse(path: Path) -> Document:
    return parse_file(path, source=str(path), doc_id="x" * 64, languages=LANGUAGES)


def direct(path: Path) -> list:
    """The partitioner on its own, as parse_file would call it."""
    use_bundled_spacy_model()
    return formats.PARTITIONERS[path.suffix](filename=str(path), languages=LANGUAGES)


def rows(doc: Document) -> list[list[str]]:
    """Each table block's rows, as parse.py renders them ("a | b")."""
    return [b.text.split("\n") for b in doc.blocks if b.kind == "Table"]


@pytest.fixture
def pptx_file(tmp_path: Path) -> Path:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    slide.shapes.title.text = "Gas giants"
    slide.placeholders[1].text = "Jupiter has 95 known moons."
    slide = deck.slides.add_slide(deck.slide_layouts[5])
    slide.shapes.title.text = "Moon counts"
    table = slide.shapes.add_table(3, 2, Inches(1), Inches(2), Inches(4), Inches(2)).table
    for r, row in enumerate([["Planet", "Moons"], ["Saturn", "274"], ["Uranus", "28"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    slide.notes_slide.notes_text_frame.text = "Saturn overtook Jupiter in 2023."
    path = tmp_path / "deck.pptx"
    deck.save(path)
    return path


@pytest.fixture
def xlsx_file(tmp_path: Path) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Planets"
    for row in [["Planet", "Moons"], ["Earth", 1], ["Mars", 2], [None, None], ["Venus", 0]]:
        sheet.append(row)
    sheet = book.create_sheet("城市")
    sheet.append(["城市", "人口"])
    sheet.append(["上海", 2487])
    path = tmp_path / "book.xlsx"
    book.save(path)
    return path


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "moons.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["Planet", "Moons"], ["Neptune", "16"], ["Pluto", "5"]])
    return path


@pytest.fixture
def eml_file(tmp_path: Path) -> Path:
    msg = EmailMessage()
    msg["Subject"] = "Launch plan"
    msg["From"] = "ops@example.com"
    msg["To"] = "crew@example.com"
    msg.set_content("The launch window opens on Tuesday at dawn.\n")
    msg.add_attachment("The payload weighs 42 kg.\n", filename="payload.txt")
    msg.add_attachment(PNG, maintype="image", subtype="png", filename="diagram.png")
    path = tmp_path / "launch.eml"
    path.write_bytes(bytes(msg))
    return path


@pytest.fixture
def rst_file(tmp_path: Path) -> Path:
    (tmp_path / "secret.txt").write_text("SECRET-MARKER", encoding="utf-8")
    path = tmp_path / "guide.rst"
    path.write_text(
        "Installation\n============\n\nRun the installer; it takes two minutes.\n\n"
        "Offline mode\n------------\n\nNo network is needed after setup.\n\n"
        "Usage\n=====\n\nCall the tool with a folder.\n\n"
        ".. include:: secret.txt\n\n.. raw:: html\n\n   <p>INJECTED</p>\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def json_file(tmp_path: Path) -> Path:
    records = [
        {"city": "Shanghai", "native": "上海", "tags": ["port", "finance"], "geo": {"lat": 31.2}},
        {"city": "Lyon", "population": 522000, "capital": False},
    ]
    path = tmp_path / "cities.json"
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return path


class TestRegistry:
    def test_suffixes(self) -> None:
        from ragkit.ingestion import convert

        assert set(formats.PARTITIONERS) == {
            ".pptx", ".xlsx", ".csv", ".tsv", ".eml", ".msg", ".rst", ".json", ".ndjson",
            ".jsonl", ".xml", *convert.ROUTES, *convert.IMAGES,
        }  # fmt: skip
        assert all(s == s.lower() for s in formats.PARTITIONERS)


class TestPptx:
    def test_slide_number_is_the_page(self, pptx_file: Path) -> None:
        pages = {e.text: e.metadata.page_number for e in direct(pptx_file) if e.text}
        assert pages["Jupiter has 95 known moons."] == 1
        assert pages["Moon counts"] == 2

    def test_parse_file(self, pptx_file: Path) -> None:
        doc = parse(pptx_file)
        assert [b.page for b in doc.blocks if "95 known moons" in b.text] == [1]
        [table] = [b for b in doc.blocks if b.kind == "Table"]
        assert table.page == 2
        assert table.text.split("\n") == ["Planet | Moons", "Saturn | 274", "Uranus | 28"]
        assert any("overtook Jupiter" in b.text and b.page == 2 for b in doc.blocks), "notes"


class TestXlsx:
    def test_one_table_per_sheet_with_sheet_index_and_name(self, xlsx_file: Path) -> None:
        elements = direct(xlsx_file)
        assert [e.category for e in elements] == ["Table", "Table"]
        assert [e.metadata.page_number for e in elements] == [1, 2]
        assert [e.metadata.page_name for e in elements] == ["Planets", "城市"]
        assert "Planet" in elements[0].metadata.text_as_html

    def test_parse_file_keeps_header_and_whole_sheet(self, xlsx_file: Path) -> None:
        doc = parse(xlsx_file)
        assert [b.page for b in doc.blocks] == [1, 2]
        planets, cities = rows(doc)
        assert planets[0] == "Planet | Moons"
        assert "Venus | 0" in planets, "a blank row does not split the table"
        assert "Earth | 1" in planets, "whole numbers stay whole"
        assert cities == ["城市 | 人口", "上海 | 2487"]


class TestDelimited:
    def test_csv_header_row_kept(self, csv_file: Path) -> None:
        [table] = direct(csv_file)
        assert table.category == "Table"
        assert "<td>Planet</td>" in table.metadata.text_as_html
        assert rows(parse(csv_file)) == [["Planet | Moons", "Neptune | 16", "Pluto | 5"]]

    def test_tsv(self, tmp_path: Path) -> None:
        path = tmp_path / "t.tsv"
        path.write_text("名称\t数量\n熊猫\t1864\n", encoding="utf-8")
        assert rows(parse(path)) == [["名称 | 数量", "熊猫 | 1864"]]

    def test_gb18030_csv(self, tmp_path: Path) -> None:
        path = tmp_path / "gb.csv"
        path.write_bytes("城市,人口\n上海,2487\n".encode("gb18030"))
        assert rows(parse(path)) == [["城市 | 人口", "上海 | 2487"]]


class TestEmail:
    def test_body_and_text_attachment_png_ignored(self, eml_file: Path) -> None:
        elements = direct(eml_file)
        texts = [e.text for e in elements]
        assert "The launch window opens on Tuesday at dawn." in texts
        assert "The payload weighs 42 kg." in texts
        assert "diagram.png" not in texts
        attached = [e for e in elements if e.text == "The payload weighs 42 kg."]
        assert attached[0].metadata.attached_to_filename == "launch.eml"

    def test_parse_file(self, eml_file: Path) -> None:
        doc = parse(eml_file)
        body = [b for b in doc.blocks if "launch window" in b.text]
        assert body and body[0].section == "Launch plan"
        payload = [b for b in doc.blocks if "42 kg" in b.text]
        assert payload and payload[0].section == "Launch plan > payload.txt"
        assert "png" not in doc.text.lower()
        assert "\x89" not in doc.text

    def test_markdown_html_and_csv_attachments(self, tmp_path: Path) -> None:
        msg = EmailMessage()
        msg.set_content("See the attached files.\n")
        msg.add_attachment("# Fuel\n\nCheck the fuel twice.\n", subtype="markdown", filename="f.md")
        msg.add_attachment("<p>Crew of four.</p>", subtype="html", filename="crew.html")
        msg.add_attachment("item,qty\nsuit,4\n", subtype="csv", filename="kit.csv")
        msg.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="x.pdf")
        path = tmp_path / "m.eml"
        path.write_bytes(bytes(msg))
        doc = parse(path)
        assert "Check the fuel twice." in doc.text
        assert "Crew of four." in doc.text
        assert rows(doc) == [["item | qty", "suit | 4"]]
        assert "PDF" not in doc.text


class TestRst:
    def test_sections_become_titles_with_depth(self, rst_file: Path) -> None:
        titles = [(e.text, e.metadata.category_depth) for e in direct(rst_file)
                  if e.category == "Title"]  # fmt: skip
        assert titles == [("Installation", 0), ("Offline mode", 1), ("Usage", 0)]

    def test_parse_file(self, rst_file: Path) -> None:
        doc = parse(rst_file)
        offline = [b for b in doc.blocks if "No network" in b.text]
        assert offline and offline[0].section == "Installation > Offline mode"
        usage = [b for b in doc.blocks if "with a folder" in b.text]
        assert usage and usage[0].section == "Usage"

    def test_include_and_raw_are_disabled(self, rst_file: Path) -> None:
        texts = " ".join(e.text for e in direct(rst_file))
        assert "INJECTED" not in texts
        assert "SECRET" not in texts


class TestJson:
    def test_one_element_per_record(self, json_file: Path) -> None:
        first, second = direct(json_file)
        assert first.text.split("\n") == [
            "city: Shanghai", "native: 上海", "tags[0]: port", "tags[1]: finance", "geo.lat: 31.2"
        ]  # fmt: skip
        assert second.text.split("\n") == ["city: Lyon", "population: 522000", "capital: false"]

    def test_parse_file(self, json_file: Path) -> None:
        doc = parse(json_file)
        assert len(doc.blocks) == 2
        assert "native: 上海" in doc.text

    def test_object_and_scalars(self) -> None:
        assert formats.flatten_json({"a": {"b": [1, None]}, "c": {}}) == [
            "a.b[0]: 1", "a.b[1]: null", "c: {}"
        ]  # fmt: skip
        assert formats.flatten_json("plain") == ["plain"]

    def test_malformed_json(self, tmp_path: Path) -> None:
        path = tmp_path / "bad.json"
        path.write_text('[{"a": 1},', encoding="utf-8")
        with pytest.raises(ParseError, match=r"invalid JSON: .* line 1 column 11"):
            direct(path)
        with pytest.raises(ParseError, match="invalid JSON"):
            parse(path)

    def test_deep_nesting_does_not_overflow(self) -> None:
        deep: object = "bottom"
        for _ in range(5000):
            deep = [deep]
        assert formats.flatten_json(deep) == ["[0]" * 5000 + ": bottom"]
