"""Parsing real files with unstructured (and pdfminer.six for PDF)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragkit import ParseError
from ragkit.ingestion.parse import file_hash, parse_file


def parse(path: Path):
    return parse_file(path, source=str(path), doc_id=file_hash(path), languages=["eng", "zho"])


class TestParseSamples:
    @pytest.mark.parametrize(
        ("name", "fact"),
        [
            ("llamas.md", "130 and 200 kg"),
            ("solar_system.html", "95"),
            ("tea_history.docx", "1650s"),
            ("volcanoes.pdf", "Mauna Loa"),
            ("giant_panda_zh.md", "十到十六个小时"),
            ("great_wall_zh.txt", "八千八百五十公里"),
            ("coffee_notes.txt", "Yemen"),
        ],
    )
    def test_each_format_gives_blocks_with_the_facts(self, samples: Path, name: str, fact: str):
        doc = parse(samples / name)
        assert len(doc.blocks) >= 3
        assert fact in doc.text
        assert doc.id == file_hash(samples / name)

    def test_pdf_keeps_page_numbers(self, samples: Path) -> None:
        doc = parse(samples / "volcanoes.pdf")
        pages = {b.page for b in doc.blocks}
        assert pages == {1, 2}
        krakatoa = [b for b in doc.blocks if "Krakatoa" in b.text]
        assert krakatoa and all(b.page == 2 for b in krakatoa)

    def test_markdown_sections_and_table(self, samples: Path) -> None:
        doc = parse(samples / "llamas.md")
        assert any(b.kind == "Title" for b in doc.blocks)
        assert any(" > " in b.section for b in doc.blocks), "nested headings give a section path"
        assert any(b.kind == "Table" for b in doc.blocks)

    def test_tables_keep_rows_and_header(self, samples: Path) -> None:
        doc = parse(samples / "solar_system.html")
        [table] = [b for b in doc.blocks if b.kind == "Table"]
        assert table.text.split("\n")[0] == "Planet | Known moons | Largest moon"
        assert "Jupiter | 95 | Ganymede" in table.text.split("\n")

    def test_docx_headings_become_sections(self, samples: Path) -> None:
        doc = parse(samples / "tea_history.docx")
        assert any(b.kind == "Title" for b in doc.blocks)
        assert all(b.section for b in doc.blocks if b.kind != "Title")


    def test_a_chinese_sign_off_is_not_a_heading(self, tmp_path: Path) -> None:
        path = tmp_path / "mail.txt"
        path.write_text("项目进展\n\n本季度完成了三个里程碑，下季度开始试点。\n\n祝好，\n\n李强\n",
                        encoding="utf-8")
        doc = parse_file(path, source=str(path), doc_id="x", languages=["eng", "zho"])
        kinds = {b.text: b.kind for b in doc.blocks}
        assert kinds["祝好，"] != "Title", doc.blocks
        assert all("祝好" not in b.section for b in doc.blocks), doc.blocks


class TestParseErrors:
    def test_unsupported_type(self, tmp_path: Path) -> None:
        f = tmp_path / "x.xyz"
        f.write_text("hello")
        with pytest.raises(ParseError, match="unsupported file type '.xyz'"):
            parse(f)

    def test_binary_named_pdf(self, tmp_path: Path) -> None:
        f = tmp_path / "fake.pdf"
        f.write_bytes(b"\x00\x01\x02 not a pdf" * 10)
        with pytest.raises(ParseError):
            parse(f)

    def test_binary_named_docx(self, tmp_path: Path) -> None:
        f = tmp_path / "fake.docx"
        f.write_bytes(b"PK\x03\x04 broken zip" * 10)
        with pytest.raises(ParseError):
            parse(f)

    def test_empty_file(self, tmp_path: Path) -> None:
        f = tmp_path / "empty.txt"
        f.write_text("")
        with pytest.raises(ParseError, match=r"empty file \(0 bytes\)"):
            parse(f)

    def test_whitespace_only_file(self, tmp_path: Path) -> None:
        f = tmp_path / "blank.md"
        f.write_text("\n   \n\t\n")
        with pytest.raises(ParseError, match="no text"):
            parse(f)

    def test_gb18030_text_is_decoded(self, tmp_path: Path) -> None:
        f = tmp_path / "legacy.txt"
        f.write_bytes("长城始建于春秋战国时期。\n\n明长城全长约八千八百五十公里。".encode("gb18030"))
        assert "八千八百五十公里" in parse(f).text


class TestEncodings:
    @pytest.mark.parametrize("codec", ["utf-16", "utf-32", "utf-8-sig"])
    def test_unicode_with_byte_order_mark(self, tmp_path: Path, codec: str) -> None:
        f = tmp_path / "bom.txt"
        f.write_bytes("Tea reached Britain in the 1650s.\n\n大熊猫吃竹子。".encode(codec))
        assert "大熊猫吃竹子" in parse(f).text and "1650s" in parse(f).text

    def test_encrypted_office_file(self, tmp_path: Path) -> None:
        f = tmp_path / "locked.xlsx"
        f.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
        with pytest.raises(ParseError, match="password-protected"):
            parse(f)
