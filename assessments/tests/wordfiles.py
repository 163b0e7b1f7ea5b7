""".docx files for the 从Word导入 tests, built with python-docx (issue 19).

`seed_docx("000")` is seed 000's report as Word holds it (fixtures/word/README.md): one paragraph a
line, Word's own list numbers where the extraction shows "1、 " / "（2） " (a number and a space),
bookmarks where it shows "[bookmark: …]". `Doc` builds other documents paragraph by paragraph:
headings, list numbering, images, tracked changes, comments, text boxes, footnotes, tables with
merged cells.
"""

import base64
import io
import re
from pathlib import Path

import docx
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn

FIXTURES = Path(__file__).parent / "fixtures" / "word"
SEEDS = {"000": "seed_000.txt", "002": "seed_002.txt", "003": "seed_003.txt", "004": "seed_004_report.txt"}
W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"

# A 1×1 PNG.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")

_LIST_ITEM = re.compile(r"^(?P<n>[0-9]+)、 (?P<text>.*)$")
_PAREN_ITEM = re.compile(r"^（(?P<n>[0-9]+)） (?P<text>.*)$")
_BOOKMARK = re.compile(r"\[bookmark: ([^\]]+)\]")


def seed_lines(seed: str) -> list[str]:
    return (FIXTURES / SEEDS[seed]).read_text(encoding="utf-8").split("\n")


class Doc:
    """A document under construction: `add(...)` paragraphs, `table(...)`, then `bytes()`."""

    def __init__(self):
        self.document = docx.Document()
        self.lists: dict[tuple[str, int], tuple[int, int]] = {}  # (format, start) -> (numId, last number)
        self.next_num = 100
        self.next_id = 1
        self.numbering = self.document.part.numbering_part.element

    # Paragraphs.

    def add(self, text: str = "", *, style: str | None = None, numbered: tuple[str, int] | None = None,
            fmt: str = "decimal", outline: int | None = None):
        """A paragraph. `numbered=("%1、", 6)`: Word draws "6、" in front (a list continuing from the
        previous item of the same format when it is the next number, else a new one starting there)."""
        p = self.document.add_paragraph(style=style)
        bookmarks = _BOOKMARK.findall(text)
        text = _BOOKMARK.sub("", text)
        for name in bookmarks:
            self._bookmark(p, name)
        if text:
            p.add_run(text)
        if numbered is not None:
            self._number(p, *numbered, fmt=fmt)
        if outline is not None:
            p._p.get_or_add_pPr().append(parse_xml(f'<w:outlineLvl {nsdecls("w")} w:val="{outline}"/>'))
        return p

    def _bookmark(self, p, name: str) -> None:
        n = self.next_id
        self.next_id += 1
        p._p.append(parse_xml(f'<w:bookmarkStart {nsdecls("w")} w:id="{n}" w:name="{name}"/>'))
        p._p.append(parse_xml(f'<w:bookmarkEnd {nsdecls("w")} w:id="{n}"/>'))

    def _number(self, p, lvl_text: str, number: int, *, fmt: str = "decimal") -> None:
        key = (lvl_text, fmt)
        num_id, last = self.lists.get(key, (None, None))
        if num_id is None or number != last + 1:
            num_id = self._new_list(lvl_text, fmt, number)
        self.lists[key] = (num_id, number)
        p._p.get_or_add_pPr().insert(0, parse_xml(
            f'<w:numPr {nsdecls("w")}><w:ilvl w:val="0"/><w:numId w:val="{num_id}"/></w:numPr>'))

    def _new_list(self, lvl_text: str, fmt: str, start: int) -> int:
        num_id = self.next_num
        self.next_num += 1
        abstract = parse_xml(
            f'<w:abstractNum {nsdecls("w")} w:abstractNumId="{num_id}"><w:multiLevelType w:val="singleLevel"/>'
            f'<w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="{fmt}"/><w:lvlText w:val="{lvl_text}"/>'
            '<w:lvlJc w:val="left"/></w:lvl></w:abstractNum>')
        first_num = self.numbering.find(qn("w:num"))
        if first_num is not None:
            first_num.addprevious(abstract)
        else:
            self.numbering.append(abstract)
        self.numbering.append(parse_xml(
            f'<w:num {nsdecls("w")} w:numId="{num_id}"><w:abstractNumId w:val="{num_id}"/>'
            f'<w:lvlOverride w:ilvl="0"><w:startOverride w:val="{start}"/></w:lvlOverride></w:num>'))
        return num_id

    def image(self, caption: str = ""):
        p = self.document.add_paragraph(caption)
        p.add_run().add_picture(io.BytesIO(PNG))
        return p

    def tracked(self, before: str, inserted: str, deleted: str, after: str = ""):
        """A paragraph with a pending insertion and deletion: "before<ins>inserted</ins><del>deleted</del>after"."""
        p = self.document.add_paragraph(before)
        p._p.append(parse_xml(
            f'<w:ins {nsdecls("w")} w:id="{self._id()}" w:author="领导" w:date="2024-03-01T00:00:00Z">'
            f'<w:r><w:t xml:space="preserve">{inserted}</w:t></w:r></w:ins>'))
        p._p.append(parse_xml(
            f'<w:del {nsdecls("w")} w:id="{self._id()}" w:author="领导" w:date="2024-03-01T00:00:00Z">'
            f'<w:r><w:delText xml:space="preserve">{deleted}</w:delText></w:r></w:del>'))
        if after:
            p.add_run(after)
        return p

    def comment(self, paragraph, text: str) -> None:
        self.document.add_comment(paragraph.runs, text=text, author="审核人")

    def text_box(self, text: str):
        """A paragraph holding only a text box (a VML shape, as WPS and older Word write it)."""
        p = self.document.add_paragraph()
        p._p.append(parse_xml(
            f'<w:r {nsdecls("w")} xmlns:v="urn:schemas-microsoft-com:vml"><w:pict><v:shape style="width:100pt;height:40pt">'
            f'<v:textbox><w:txbxContent><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:txbxContent></v:textbox>'
            '</v:shape></w:pict></w:r>'))
        return p

    def footnote(self, paragraph, text: str) -> None:
        """A footnote on `paragraph` (the footnotes part is made on first use, as Word keeps it)."""
        from docx.opc.constants import RELATIONSHIP_TYPE as RT
        from docx.opc.packuri import PackURI
        from docx.opc.part import Part

        if not hasattr(self, "notes"):
            self.notes = []
        self.notes.append(text)
        paragraph._p.append(parse_xml(
            f'<w:r {nsdecls("w")}><w:footnoteReference w:id="{len(self.notes)}"/></w:r>'))
        self.footnotes_xml = (
            f'<w:footnotes {nsdecls("w")}><w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p>'
            "</w:footnote>"
            + "".join(f'<w:footnote w:id="{n}"><w:p><w:r><w:t>{t}</w:t></w:r></w:p></w:footnote>'
                      for n, t in enumerate(self.notes, start=1))
            + "</w:footnotes>"
        )
        if not hasattr(self, "footnotes_part"):
            self.footnotes_part = Part(
                PackURI("/word/footnotes.xml"),
                "application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml", b"", self.document.part.package)
            self.document.part.relate_to(self.footnotes_part, RT.FOOTNOTES)
        self.footnotes_part._blob = self.footnotes_xml.encode()

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    # Tables.

    def table(self, rows: list[list[str]], merges: tuple[tuple[int, int, int, int], ...] = ()):
        """A table of `rows` (texts; a merged range's text in its first cell), merged ranges given as
        (first row, first column, last row, last column), 0-based."""
        table = self.document.add_table(rows=len(rows), cols=max(len(r) for r in rows))
        covered = set()
        for r1, c1, r2, c2 in merges:
            table.cell(r1, c1).merge(table.cell(r2, c2))
            covered |= {(r, c) for r in range(r1, r2 + 1) for c in range(c1, c2 + 1)} - {(r1, c1)}
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                if text and (r, c) not in covered:
                    cell = table.cell(r, c)
                    lines = text.split("\n")
                    cell.paragraphs[0].text = lines[0]
                    for line in lines[1:]:
                        cell.add_paragraph(line)
        return table

    def bytes(self) -> bytes:
        out = io.BytesIO()
        self.document.save(out)
        return out.getvalue()


def seed_docx(seed: str, *, headings: bool = False, doc: Doc | None = None) -> bytes:
    """The seed's report as a .docx; `headings=True` styles its chapters 标题 1 and "（一）"
    sub-headings 标题 2 (Word's Heading 1 / 2) instead of leaving them plain paragraphs."""
    doc = doc or Doc()
    for line in seed_lines(seed):
        style = None
        if headings:
            plain = line.strip()
            if re.match(r"^[一二三四五六七八九十]、", plain) or plain == "下一步改进措施和有关建议":
                style = "Heading 1"
            elif re.match(r"^（[一二三四五六七八九十]）", plain) and len(plain) <= 30:
                style = "Heading 2"
        item, paren = _LIST_ITEM.match(line), _PAREN_ITEM.match(line)
        if item:
            doc.add(item.group("text"), numbered=("%1、", int(item.group("n"))), style=style)
        elif paren:
            doc.add(paren.group("text"), numbered=("（%1）", int(paren.group("n"))), style=style)
        else:
            doc.add(line, style=style)
    return doc.bytes()


def sheet_as_rows(ws) -> tuple[list[list[str]], tuple[tuple[int, int, int, int], ...]]:
    """An openpyxl worksheet's values and merged ranges as `Doc.table` takes them (a 自评表 typed
    in Word as the Excel tests type it in a workbook)."""
    rows = [["" if v is None else str(v) for v in row] for row in ws.iter_rows(values_only=True)]
    merges = tuple((m.min_row - 1, m.min_col - 1, m.max_row - 1, m.max_col - 1) for m in ws.merged_cells.ranges)
    return rows, merges
