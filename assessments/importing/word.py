"""从Word导入: read a 自评报告 written in Word (.docx) into a plain, JSON-ready structure.

No Django. python-docx opens the package (document, styles, numbering, footnotes, comments); the
reader walks the body itself, because the text a person sees is not python-docx's `text`:

- list numbers Word draws (numbering.xml, "1、" "（2）" "第一章") are rendered and kept, a tab after
  the number as one space ("1、 雪亮工程项目支出56.18万元；" as the seeds were typed);
- tracked changes are shown as accepted (insertions kept, deletions dropped), comments are not
  report text: both are ignored, with a note;
- hidden text, field codes and bookmarks are not text; a page break inside a paragraph is nothing;
- images are listed ("图片未导入") with their position, text boxes and footnotes as text that was not
  placed; tables are kept as cell grids (merged cells resolved) and read by the 表样 through the
  Excel import's own parser (`parser.parse_grid`), a one-column table (a framed paragraph) as text.

Chapters are found by their numbering and titles (`_Chapters`): "一、" "第一部分" in sequence, Word
heading styles (标题 1 / outline level 1), and — where a report numbers its chapters "1、" or
"（一）" or "一是", or lost a number — a title the template knows (its section titles, aliases and
`tablespec.COMMON_SECTION_ALIASES`). Sub-headings ("（一）主要职能", "1.政治引领…") stay in the
chapter's text. A chapter whose title the template does not know is kept and listed; text before
the first chapter (the report's title) and a closing signature are listed, never dropped.

`WordDocument.sections(mapping)` turns the chapters into the sections the import saves, in the
form `apply` takes (`parser.ParsedWorkbook`), with the tables' rows when the officer wants them.
"""

import io
import re
import zipfile
from dataclasses import dataclass, field, fields

from ..tablespec import COMMON_SECTION_ALIASES, KIND_DEPARTMENT, KIND_PROJECT, TableSpec
from . import parser, safety

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
RELATIONSHIP_TYPES = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"

TITLE_MAX = 100  # ReportSection.title
MAX_GRID_CELLS = 10_000  # rows × columns of one table, spans included (seed 004's 自评表: 25 × 9)
TABLE_TOO_BIG = "文档中有表格的行列过多（超过 1 万个单元格位置），不像是一份自评报告，已拒绝导入。"
HEADING_MAX = 40  # a chapter title longer than this is a sentence, not a title

# Reasons and notes (tests assert them verbatim).
BEFORE_FIRST_CHAPTER = "位于第一个章节标题之前，未放入任何章节"
REPORT_TITLE = "报告标题（门户按表样生成报告标题，未导入）"
SIGNATURE = "落款（单位、日期），未导入"
IMAGE = "图片未导入"
TEXT_BOX = "文本框中的文字，未导入"
FOOTNOTE = "脚注，未导入"
UNKNOWN_CHAPTER = "本表样的自评报告没有对应的章节"
TRACKED_NOTE = "文档中有未处理的修订（{inserted} 处插入、{deleted} 处删除）：已按“接受所有修订”后的文字读取，修订标记本身未导入。请核对。"
COMMENTS_NOTE = "文档中有 {count} 条批注：批注不属于报告正文，未导入。"
EMBEDDED_NOTE = "文档中嵌入了其他文件（{count} 个），未导入。"
TABLES_KIND_NOTE = "文档中的表格是{found}绩效自评表，与本次导入的“{spec}”类型不同，表格未导入。"


# --- Result -----------------------------------------------------------------------------------


@dataclass
class Chapter:
    heading: str  # the heading paragraph as written: "1、 预算单位基本情况"
    number: str  # its numbering as written: "1、", "第一部分", "" (none)
    title: str  # the title without numbering (and without text after "：")
    key: str | None  # the section it fills, None when the template has no such section
    paragraphs: list = field(default_factory=list)

    @property
    def body(self) -> str:
        return "\n".join(self.paragraphs)


@dataclass
class Unplaced:
    where: str  # "文档开头" / "“三、部门整体支出绩效情况”第 2 段之后"
    text: str
    reason: str


@dataclass
class Table:
    where: str
    rows: list  # cell texts, row by row (a merged cell's text in its first cell, "" in the others)
    merges: list  # [first row, first column, last row, last column], 0-based


@dataclass
class WordDocument:
    """What a .docx said, in the import's terms (JSON-ready through `to_dict`)."""

    title: str = ""
    year: int | None = None
    kind: str = ""  # what the title says the report is ("department" / "project"), "" if it does not say
    project_name: str = ""
    layout: str = ""  # the code of the 表样 the document was read by
    chapters: list = field(default_factory=list)
    unplaced: list = field(default_factory=list)
    tables: list = field(default_factory=list)
    table_result: dict | None = None  # parser.ParsedWorkbook.to_dict() of the tables, when recognised
    table_refusal: str = ""  # why the tables could not be read, when they could not
    notes: list = field(default_factory=list)

    def to_dict(self) -> dict:
        data = dict(self.__dict__)
        data["chapters"] = [dict(c.__dict__) for c in self.chapters]
        data["unplaced"] = [dict(u.__dict__) for u in self.unplaced]
        data["tables"] = [dict(t.__dict__) for t in self.tables]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "WordDocument":
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in data.items() if k in known}
        data["chapters"] = [Chapter(**c) for c in data.get("chapters", [])]
        data["unplaced"] = [Unplaced(**u) for u in data.get("unplaced", [])]
        data["tables"] = [Table(**t) for t in data.get("tables", [])]
        return cls(**data)

    @property
    def tables_parsed(self) -> "parser.ParsedWorkbook | None":
        return parser.ParsedWorkbook.from_dict(self.table_result) if self.table_result is not None else None

    def default_mapping(self) -> list[str]:
        """The section each chapter fills unless the officer chooses otherwise ("" = none)."""
        return [c.key or "" for c in self.chapters]

    def sections(self, spec: TableSpec, mapping: list[str] | None = None) -> list[dict]:
        """[{key, title, body}] of the texts the chapters fill, in the template's order.

        `mapping` gives each chapter's section ("" = not imported). Chapters put into one section
        follow each other there, each after the first under its own heading line. The title is
        kept as the report writes it when it differs from the template's ("" otherwise)."""
        mapping = self.default_mapping() if mapping is None else mapping
        declared = {s.key: s.title for s in spec.text_sections}
        filled: dict[str, dict] = {}
        for chapter, key in zip(self.chapters, mapping, strict=True):
            if not key or key not in declared:
                continue
            if key in filled:
                filled[key]["lines"] += [chapter.heading, *chapter.paragraphs]
                continue
            title = chapter.title if parser.norm(chapter.title) != parser.norm(declared[key]) else ""
            lines = list(chapter.paragraphs)
            if len(title) > TITLE_MAX:
                title, lines = "", [chapter.heading, *lines]
            filled[key] = {"key": key, "title": title, "lines": lines}
        return [
            {"key": s["key"], "title": s["title"], "body": "\n".join(s["lines"])}
            for key in declared
            if (s := filled.get(key)) is not None
        ]

    def parsed(self, spec: TableSpec, mapping: list[str] | None = None, *, tables: bool = False) -> "parser.ParsedWorkbook":
        """The import as `apply` takes it: the sections, and the tables' rows if `tables`."""
        out = self.tables_parsed if tables and self.table_result is not None else parser.ParsedWorkbook()
        out.kind, out.layout = spec.kind, spec.code
        if not tables:
            out.file_kind = ""
        block_keys = {b.key for b in spec.blocks}
        texts = self.sections(spec, mapping)
        out.blocks = [t for t in texts if t["key"] in block_keys]
        report = [t for t in texts if t["key"] not in block_keys]
        out.sections = report if report else None
        out.unmapped, out.notes = [], []
        return out


class DocumentRefused(parser.ParseRefused):
    pass


# --- Reading ----------------------------------------------------------------------------------


def read_document(data: bytes, specs) -> WordDocument:
    """Read the .docx bytes (already checked by `safety.check_docx_upload` and
    `safety.check_declared_docx`). `specs` is the 表样 to read by, or a dict of them by kind
    ({"department": …, "project": …}): the report's title chooses (部门整体 unless it names a
    项目), and that template's sections and tables are what the document is matched against."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from lxml import etree

    try:
        document = docx.Document(io.BytesIO(data))
        body = document.element.body
        styles = _Styles(document)
        numbering = _Numbering(document)
    except (PackageNotFoundError, KeyError, ValueError, AttributeError, etree.XMLSyntaxError, zipfile.BadZipFile):
        raise DocumentRefused(safety.CORRUPT_DOCX) from None
    walker = _Walker(styles, numbering)
    walker.walk(body)
    walker.footnotes(document)
    comments = _count_comments(document)

    out = WordDocument()
    out.title = _report_title(walker.items)
    out.kind = _kind_of(out.title)
    if isinstance(specs, TableSpec):
        spec = specs
    else:
        spec = specs.get(out.kind or KIND_DEPARTMENT) or next(iter(specs.values()))
    out.layout = spec.code
    if spec.kind == KIND_PROJECT:
        out.project_name = _project_name(out.title)
    _Chapters(spec, out).run(walker.items)
    out.year = _year_of(out)
    _read_tables(out, spec)
    if walker.inserted or walker.deleted:
        out.notes.append(TRACKED_NOTE.format(inserted=walker.inserted, deleted=walker.deleted))
    if comments:
        out.notes.append(COMMENTS_NOTE.format(count=comments))
    if walker.embedded:
        out.notes.append(EMBEDDED_NOTE.format(count=walker.embedded))
    return out


# --- Styles and list numbering ------------------------------------------------------------------


_HEADING_NAME = re.compile(r"^(?:heading|标题)\s*([1-9])$", re.I)


class _Styles:
    """Paragraph styles: the heading level (1 = a chapter) and list numbering each one gives."""

    def __init__(self, document):
        self.by_id: dict[str, dict] = {}
        self.default = None
        root = document.styles.element
        for style in root.iterchildren(f"{W}style"):
            if style.get(f"{W}type") != "paragraph":
                continue
            style_id = style.get(f"{W}styleId", "")
            name_el = style.find(f"{W}name")
            based = style.find(f"{W}basedOn")
            ppr = style.find(f"{W}pPr")
            self.by_id[style_id] = {
                "name": name_el.get(f"{W}val", "") if name_el is not None else "",
                "based": based.get(f"{W}val") if based is not None else None,
                "outline": _outline(ppr),
                "num": _num_pr(ppr),
            }
            if style.get(f"{W}default") in ("1", "true", "on"):
                self.default = style_id

    def _chain(self, style_id):
        seen = set()
        while style_id and style_id in self.by_id and style_id not in seen:
            seen.add(style_id)
            yield self.by_id[style_id]
            style_id = self.by_id[style_id]["based"]

    def level(self, style_id: str | None) -> int | None:
        """1 for 标题 1 / Heading 1 (or outline level 1), 2 for the next … None: body text."""
        for info in self._chain(style_id or self.default):
            match = _HEADING_NAME.match(info["name"].strip())
            if match:
                return int(match.group(1))
            if info["outline"] is not None:
                return info["outline"]
        return None

    def is_title(self, style_id: str | None) -> bool:
        return any(info["name"].strip().lower() in ("title", "标题") for info in self._chain(style_id))

    def numbering(self, style_id: str | None) -> tuple[str, int] | None:
        for info in self._chain(style_id or self.default):
            if info["num"] is not None:
                return info["num"]
        return None


def _outline(ppr) -> int | None:
    if ppr is None:
        return None
    el = ppr.find(f"{W}outlineLvl")
    if el is None:
        return None
    value = el.get(f"{W}val", "")
    return int(value) + 1 if value.isdigit() and int(value) < 9 else None


def _num_pr(ppr) -> tuple[str, int] | None:
    if ppr is None:
        return None
    num = ppr.find(f"{W}numPr")
    if num is None:
        return None
    num_id = num.find(f"{W}numId")
    ilvl = num.find(f"{W}ilvl")
    if num_id is None:
        return None
    level = ilvl.get(f"{W}val", "0") if ilvl is not None else "0"
    return num_id.get(f"{W}val", ""), int(level) if level.isdigit() and int(level) < 9 else 0


@dataclass
class _Level:
    start: int = 1
    fmt: str = "decimal"
    text: str = "%1."
    suffix: str = "tab"
    legal: bool = False


class _Numbering:
    """numbering.xml: the label Word draws in front of each list paragraph ("1、", "（2）", "一、")."""

    def __init__(self, document):
        self.abstract: dict[str, dict[int, _Level]] = {}
        self.nums: dict[str, tuple[str, dict[int, int], dict[int, _Level]]] = {}
        self.counters: dict[str, dict[int, int]] = {}
        try:
            part = document.part.part_related_by(RELATIONSHIP_TYPES + "numbering")
        except KeyError:
            return
        root = part.element
        for abstract in root.iterchildren(f"{W}abstractNum"):
            self.abstract[abstract.get(f"{W}abstractNumId", "")] = {
                level_no: level for level_no, level in (_level(lvl) for lvl in abstract.iterchildren(f"{W}lvl"))
            }
        for num in root.iterchildren(f"{W}num"):
            ref = num.find(f"{W}abstractNumId")
            starts, levels = {}, {}
            for override in num.iterchildren(f"{W}lvlOverride"):
                ilvl = _int(override.get(f"{W}ilvl"), 0)
                start = override.find(f"{W}startOverride")
                if start is not None:
                    starts[ilvl] = _int(start.get(f"{W}val"), 1)
                lvl = override.find(f"{W}lvl")
                if lvl is not None:
                    levels[ilvl] = _level(lvl)[1]
            self.nums[num.get(f"{W}numId", "")] = (ref.get(f"{W}val", "") if ref is not None else "", starts, levels)

    def level_of(self, num_id: str, ilvl: int) -> _Level | None:
        if num_id not in self.nums:
            return None
        abstract_id, _starts, levels = self.nums[num_id]
        return levels.get(ilvl) or self.abstract.get(abstract_id, {}).get(ilvl)

    def label(self, num_id: str, ilvl: int) -> str:
        """The next label of list `num_id` at level `ilvl` (counting it), "" for none."""
        level = self.level_of(num_id, ilvl)
        if num_id in ("", "0") or level is None:
            return ""
        _abstract, starts, _levels = self.nums[num_id]
        counters = self.counters.setdefault(num_id, {})
        counters[ilvl] = counters[ilvl] + 1 if ilvl in counters else starts.get(ilvl, level.start)
        for deeper in [k for k in counters if k > ilvl]:
            del counters[deeper]
        if level.fmt == "none":
            return ""
        if level.fmt == "bullet":
            text = "".join(ch if not 0xE000 <= ord(ch) <= 0xF8FF else "•" for ch in level.text)
        else:
            def number(match):
                n = int(match.group(1)) - 1
                other = self.level_of(num_id, n) or _Level()
                value = counters.get(n, starts.get(n, other.start))
                return _format(value, "decimal" if level.legal and n != ilvl else other.fmt)

            text = re.sub(r"%([1-9])", number, level.text)
        return text + (" " if level.suffix in ("tab", "space") and text else "")


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _level(lvl) -> tuple[int, _Level]:
    def val(tag, default):
        el = lvl.find(f"{W}{tag}")
        return el.get(f"{W}val", default) if el is not None else default

    level = _Level(
        start=_int(val("start", "1"), 1), fmt=val("numFmt", "decimal"), text=val("lvlText", ""),
        suffix=val("suff", "tab"), legal=lvl.find(f"{W}isLgl") is not None,
    )
    return _int(lvl.get(f"{W}ilvl"), 0), level


_CN = "零一二三四五六七八九"
_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"
_PAREN = "⑴⑵⑶⑷⑸⑹⑺⑻⑼⑽⑾⑿⒀⒁⒂⒃⒄⒅⒆⒇"
_FULLSTOP = "⒈⒉⒊⒋⒌⒍⒎⒏⒐⒑⒒⒓⒔⒕⒖⒗⒘⒙⒚⒛"
_TIANGAN = "甲乙丙丁戊己庚辛壬癸"
_DIZHI = "子丑寅卯辰巳午未申酉戌亥"
_ROMAN = ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"), (50, "L"), (40, "XL"),
          (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"))


def chinese_number(n: int) -> str:
    """一 … 十 … 九十九 (Word's chineseCounting), Arabic digits beyond."""
    if not 0 < n < 100:
        return str(n)
    tens, ones = divmod(n, 10)
    if tens == 0:
        return _CN[ones]
    return ("" if tens == 1 else _CN[tens]) + "十" + (_CN[ones] if ones else "")


def _format(n: int, fmt: str) -> str:
    if fmt in ("chineseCounting", "chineseCountingThousand", "japaneseCounting", "taiwaneseCounting",
               "taiwaneseCountingThousand", "chineseLegalSimplified"):
        return chinese_number(n)
    if fmt in ("ideographDigital", "japaneseDigitalTenThousand", "taiwaneseDigital"):
        return "".join(_CN[int(d)] if d.isdigit() else d for d in str(n)).replace("零", "〇")
    if fmt in ("decimalEnclosedCircle", "decimalEnclosedCircleChinese", "ideographEnclosedCircle") and 0 < n <= 20:
        return _CIRCLED[n - 1]
    if fmt == "decimalEnclosedParen" and 0 < n <= 20:
        return _PAREN[n - 1]
    if fmt == "decimalEnclosedFullstop" and 0 < n <= 20:
        return _FULLSTOP[n - 1]
    if fmt == "ideographTraditional" and 0 < n <= 10:
        return _TIANGAN[n - 1]
    if fmt == "ideographZodiac" and 0 < n <= 12:
        return _DIZHI[n - 1]
    if fmt in ("decimalFullWidth", "decimalFullWidth2"):
        return "".join(chr(ord(d) + 0xFEE0) for d in str(n))
    if fmt == "decimalZero":
        return f"{n:02d}"
    if fmt in ("lowerLetter", "upperLetter") and n > 0:
        letter = chr(ord("a") + (n - 1) % 26) * ((n - 1) // 26 + 1)
        return letter if fmt == "lowerLetter" else letter.upper()
    if fmt in ("lowerRoman", "upperRoman") and 0 < n < 4000:
        out, rest = "", n
        for value, numeral in _ROMAN:
            while rest >= value:
                out, rest = out + numeral, rest - value
        return out if fmt == "upperRoman" else out.lower()
    return str(n)


# --- Walking the body -------------------------------------------------------------------------


@dataclass
class _Para:
    text: str
    level: int | None  # heading level of its style (1 = chapter), None for body text
    listed: bool  # Word draws its number
    images: int = 0
    is_title: bool = False


@dataclass
class _Grid:
    rows: list
    merges: list


# Containers whose children are read as if they were in the paragraph or body itself.
_TRANSPARENT = {f"{W}hyperlink", f"{W}smartTag", f"{W}customXml", f"{W}fldSimple", f"{W}ins", f"{W}moveTo", f"{W}dir",
                f"{W}bdo"}
_DELETED = {f"{W}del", f"{W}moveFrom"}
_PICTURES = {f"{W}drawing", f"{W}pict", f"{W}object"}


class _Walker:
    """The body in reading order: paragraphs (text as Word shows it) and tables (cell grids)."""

    def __init__(self, styles: _Styles, numbering: _Numbering):
        self.styles = styles
        self.numbering = numbering
        self.items: list = []
        self.inserted = self.deleted = self.embedded = 0
        self.text_boxes: list[str] = []

    def walk(self, container) -> None:
        for child in container.iterchildren():
            tag = child.tag
            if tag == f"{W}p":
                self.items.append(self.paragraph(child))
                for text in self.text_boxes:
                    self.items.append(("textbox", text))
                self.text_boxes = []
            elif tag == f"{W}tbl":
                grid = self.table(child)
                if grid.rows and max(len(r) for r in grid.rows) == 1:  # a framed paragraph
                    for row in grid.rows:
                        for line in row[0].split("\n"):
                            if line.strip():
                                self.items.append(_Para(line.strip(), None, False))
                else:
                    self.items.append(grid)
            elif tag == f"{W}sdt":
                content = child.find(f"{W}sdtContent")
                if content is not None:
                    self.walk(content)
            elif tag in (f"{W}customXml", f"{W}ins", f"{W}moveTo"):
                self.walk(child)
            elif tag == f"{W}altChunk":
                self.embedded += 1
            elif tag == f"{MC}AlternateContent":
                choice = child.find(f"{MC}Fallback")
                if choice is None:
                    choice = child.find(f"{MC}Choice")
                if choice is not None:
                    self.walk(choice)

    # Paragraphs.

    def paragraph(self, p) -> _Para:
        ppr = p.find(f"{W}pPr")
        style_el = ppr.find(f"{W}pStyle") if ppr is not None else None
        style_id = style_el.get(f"{W}val") if style_el is not None else None
        level = _outline(ppr)
        if level is None:
            level = self.styles.level(style_id)
        num = _num_pr(ppr) or self.styles.numbering(style_id)
        parts: list[str] = []
        counter = {"images": 0}
        self.runs(p, parts, counter)
        text = "".join(parts)
        label = ""
        if num is not None and _text_key(text):
            label = self.numbering.label(*num)
        para = _Para(_clean(label + text), level, bool(label), counter["images"], self.styles.is_title(style_id))
        return para

    def runs(self, container, parts: list[str], counter: dict) -> None:
        for child in container.iterchildren():
            tag = child.tag
            if tag == f"{W}r":
                self.run(child, parts, counter)
            elif tag in _DELETED:
                self.deleted += 1
            elif tag in _TRANSPARENT:
                if tag in (f"{W}ins", f"{W}moveTo"):
                    self.inserted += 1
                self.runs(child, parts, counter)
            elif tag == f"{W}sdt":
                content = child.find(f"{W}sdtContent")
                if content is not None:
                    self.runs(content, parts, counter)
            elif tag == f"{MC}AlternateContent":
                self.runs(child, parts, counter)
            elif tag in (f"{MC}Choice", f"{MC}Fallback"):
                self.runs(child, parts, counter)
                return

    def run(self, r, parts: list[str], counter: dict) -> None:
        rpr = r.find(f"{W}rPr")
        if rpr is not None and (rpr.find(f"{W}vanish") is not None or rpr.find(f"{W}webHidden") is not None):
            vanish = rpr.find(f"{W}vanish")
            if vanish is None or vanish.get(f"{W}val", "true") not in ("0", "false", "off"):
                return
        for child in r.iterchildren():
            tag = child.tag
            if tag == f"{W}t":
                parts.append(child.text or "")
            elif tag in (f"{W}tab", f"{W}ptab"):
                parts.append("\t")
            elif tag == f"{W}br":
                if child.get(f"{W}type") not in ("page", "column"):
                    parts.append("\n")
            elif tag == f"{W}cr":
                parts.append("\n")
            elif tag == f"{W}noBreakHyphen":
                parts.append("-")
            elif tag == f"{W}sym":
                code = child.get(f"{W}char", "")
                try:
                    ch = chr(int(code, 16))
                except ValueError:
                    continue
                if not 0xE000 <= ord(ch) <= 0xF8FF:
                    parts.append(ch)
            elif tag in _PICTURES:
                counter["images"] += 0 if self.text_box(child) else 1
            elif tag == f"{MC}AlternateContent":
                # A drawing and its VML fallback are one picture: read the first choice only.
                choice = child.find(f"{MC}Choice")
                if choice is None:
                    choice = child.find(f"{MC}Fallback")
                if choice is not None:
                    inner = next((c for c in choice.iterchildren() if c.tag in _PICTURES), None)
                    if inner is not None:
                        counter["images"] += 0 if self.text_box(inner) else 1

    def text_box(self, drawing) -> bool:
        """Text boxes inside a drawing are kept (listed); True when the drawing is one."""
        found = False
        for content in drawing.iter(f"{W}txbxContent"):
            found = True
            lines = []
            for p in content.iter(f"{W}p"):
                parts: list[str] = []
                self.runs(p, parts, {"images": 0})
                line = _clean("".join(parts))
                if line:
                    lines.append(line)
            if lines:
                self.text_boxes.append("\n".join(lines))
        return found

    # Tables.

    def table(self, tbl, depth: int = 0) -> _Grid:
        rows: list[list[str]] = []
        merges: list[list[int]] = []
        origin: dict[int, list[int]] = {}  # column -> merge range [r1, c1, r2, c2] of the cell above
        for tr in _children(tbl, f"{W}tr"):
            r = len(rows)
            row: list[str] = []
            trpr = tr.find(f"{W}trPr")
            col = _grid_value(trpr, "gridBefore")
            row.extend([""] * col)
            for tc in _children(tr, f"{W}tc"):
                tcpr = tc.find(f"{W}tcPr")
                span = max(1, _grid_value(tcpr, "gridSpan", 1))
                vmerge = tcpr.find(f"{W}vMerge") if tcpr is not None else None
                continues = vmerge is not None and vmerge.get(f"{W}val", "continue") != "restart"
                text = self.cell_text(tc, depth)
                row.extend([""] * span)
                if continues and col in origin:
                    origin[col][2] = r  # Word shows no text of its own in a continued cell
                else:
                    row[col] = text
                    rng = [r, col, r, col + span - 1]
                    merges.append(rng)
                    for c in range(col, col + span):
                        origin[c] = rng
                col += span
            rows.append(row)
        width = max((len(row) for row in rows), default=0)
        if width * len(rows) > MAX_GRID_CELLS:
            raise DocumentRefused(TABLE_TOO_BIG)
        rows = [row + [""] * (width - len(row)) for row in rows]
        return _Grid(rows, [m for m in merges if m[0] != m[2] or m[1] != m[3]])

    def cell_text(self, tc, depth: int) -> str:
        lines = []
        for child in tc.iterchildren():
            if child.tag == f"{W}p":
                para = self.paragraph(child)
                if para.text:
                    lines.append(para.text)
            elif child.tag == f"{W}tbl" and depth < 3:
                nested = self.table(child, depth + 1)
                lines += [" ".join(cell for cell in row if cell) for row in nested.rows if any(row)]
        self.text_boxes = []  # a text box in a cell stays with the cell's table (rare): not listed twice
        return "\n".join(lines)

    # Footnotes.

    def footnotes(self, document) -> None:
        for reltype, label in (("footnotes", "脚注"), ("endnotes", "尾注")):
            root = _related_xml(document, reltype)
            if root is None:
                continue
            for note in root.iterchildren(f"{W}footnote", f"{W}endnote"):
                if note.get(f"{W}type") in ("separator", "continuationSeparator", "continuationNotice"):
                    continue
                lines = []
                for p in note.iter(f"{W}p"):
                    parts: list[str] = []
                    self.runs(p, parts, {"images": 0})
                    if line := _clean("".join(parts)):
                        lines.append(line)
                if lines:
                    self.items.append(("footnote", f"{label}：" + "\n".join(lines)))


def _children(el, tag):
    """Children named `tag`, also inside content controls and custom XML (rows, cells)."""
    for child in el.iterchildren():
        if child.tag == tag:
            yield child
        elif child.tag in (f"{W}sdt", f"{W}customXml"):
            inner = child.find(f"{W}sdtContent") if child.tag == f"{W}sdt" else child
            if inner is not None:
                yield from _children(inner, tag)


def _grid_value(pr, name: str, default: int = 0) -> int:
    if pr is None:
        return default
    el = pr.find(f"{W}{name}")
    if el is None:
        return default
    return min(_int(el.get(f"{W}val"), default), safety.MAX_GRID_SPAN)


def _related_xml(document, reltype: str):
    from docx.oxml.parser import parse_xml

    try:
        part = document.part.part_related_by(RELATIONSHIP_TYPES + reltype)
    except KeyError:
        return None
    element = getattr(part, "element", None)
    return element if element is not None else parse_xml(part.blob)


def _count_comments(document) -> int:
    root = _related_xml(document, "comments")
    return 0 if root is None else sum(1 for _ in root.iterchildren(f"{W}comment"))


_SPACES = " \t\u3000\xa0\u2002\u2003\u2009\u200b\ufeff"


def _clean(text: str) -> str:
    lines = [line.strip(_SPACES) for line in text.replace("\r", "\n").split("\n")]
    return "\n".join(line for line in lines if line)


def _text_key(text: str) -> str:
    return "".join(text.split())


# --- Title, kind, year ----------------------------------------------------------------------------


def _report_title(items) -> str:
    """The first paragraph styled as the title or naming the report (…自评报告), else one naming
    a 自评表 (a report that starts with its table)."""
    candidates = [item for item in items[:12] if isinstance(item, _Para) and item.text and len(item.text) <= 80
                  and "。" not in item.text and not _heading(item.text).cls]
    for words in (("报告",), ("自评",)):
        for item in candidates:
            if item.is_title or any(w in item.text for w in words):
                return item.text
    return ""


def _kind_of(title: str) -> str:
    compact = parser.norm(title)
    if not compact:
        return ""
    if "项目" in compact and "部门整体" not in compact and "部门" not in compact.split("项目")[0][-4:]:
        return KIND_PROJECT
    return KIND_DEPARTMENT if "部门" in compact or "整体" in compact or "单位" in compact else ""


def _project_name(title: str) -> str:
    name = re.sub(r"^.*?年度?", "", parser.norm(title))
    name = re.sub(r"(项目支出|项目)?(绩效)?(自评|评价)?报告$", "", name)
    return name if name and len(name) <= 200 else ""


_YEAR = re.compile(r"((?:19|20)[0-9]{2})\s*年")


def _year_of(doc: WordDocument) -> int | None:
    match = _YEAR.search(doc.title)
    if match:
        return int(match.group(1))
    for chapter in doc.chapters[:3]:
        match = _YEAR.search(chapter.body)
        if match:
            return int(match.group(1))
    return None


# --- Chapters ---------------------------------------------------------------------------------

_CN_NUM = "一二三四五六七八九十"
_NUMBERINGS = (
    # (class, pattern): the number in group "n", what follows in group "rest"
    ("part", re.compile(r"^第(?P<n>[一二三四五六七八九十]+|[0-9０-９]+)(?:部分|章|篇|节)[\s、.．:：]*(?P<rest>.*)$", re.S)),
    ("cn", re.compile(r"^(?P<n>[一二三四五六七八九十]+)\s*(?:[、.．]|\s)\s*(?P<rest>.+)$", re.S)),
    ("paren_cn", re.compile(r"^[（(]\s*(?P<n>[一二三四五六七八九十]+)\s*[)）]\s*(?P<rest>.+)$", re.S)),
    ("shi", re.compile(r"^(?P<n>[一二三四五六七八九十]+)是(?P<rest>.+)$", re.S)),
    ("arabic", re.compile(r"^(?P<n>[0-9０-９]{1,2})\s*(?:[、.．]|\)|）)(?![0-9０-９])\s*(?P<rest>.+)$", re.S)),
    ("paren_arabic", re.compile(r"^[（(]\s*(?P<n>[0-9０-９]{1,2})\s*[)）]\s*(?P<rest>.+)$", re.S)),
    ("circled", re.compile(r"^(?P<n>[①-⑳])\s*(?P<rest>.+)$", re.S)),
)
# Numbering that marks a chapter by itself (in sequence); the others need a title the template knows.
_STRONG = ("part", "cn")
_SENTENCE = re.compile(r"[，,；;。！？!?]")
_DATE = re.compile(r"^(?:19|20)[0-9]{2}\s*年\s*[0-9]{1,2}\s*月(?:\s*[0-9]{1,2}\s*日)?$")


def _number_value(text: str) -> int:
    if text.isdigit():
        return int(text)
    if text[0] in "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳":
        return "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳".index(text[0]) + 1
    return parser._cn_to_int(text)


@dataclass
class _Heading:
    cls: str  # numbering class, "" for none
    number: int  # 0 for none
    label: str  # the numbering as written
    title: str  # the title (before "：" / "。" where the paragraph goes on)
    rest: str  # what follows the title in the same paragraph ("无")


def _heading(text: str) -> _Heading:
    for cls, pattern in _NUMBERINGS:
        match = pattern.match(text)
        if match:
            rest = match.group("rest").strip()
            label = text[: match.start("rest")].strip()
            title, after = _split_title(rest, cls)
            return _Heading(cls, _number_value(match.group("n")), label, title, after)
    title, after = _split_title(text, "")
    return _Heading("", 0, "", title, after)


def _split_title(text: str, cls: str) -> tuple[str, str]:
    """A chapter title and the text after it in the same paragraph: "政府性基金预算支出情况：无";
    "一是…" chapters may run on after a full stop."""
    for mark in ("：", ":") + (("。",) if cls in ("shi", "part", "cn") else ()):
        head, sep, tail = text.partition(mark)
        if sep and head.strip() and len(head.strip()) <= HEADING_MAX:
            return head.strip(), tail.strip()
    return text.strip(), ""


class _Matcher:
    """Which of the template's texts a chapter title names: its title exactly (3), a title or an
    alias of four characters or more contained in it or containing it (2), a shorter one (1)."""

    def __init__(self, spec: TableSpec):
        self.labels: list[tuple[str, str]] = []  # (key, normalised label), the template's own first
        for section in spec.text_sections:
            for label in (section.title, *section.aliases, *COMMON_SECTION_ALIASES.get(section.key, ())):
                key = parser.label_key(label)
                if key and (section.key, key) not in self.labels:
                    self.labels.append((section.key, key))

    def match(self, title: str, used: set[str]) -> tuple[str | None, int]:
        compact = parser.label_key(title)
        if not compact:
            return None, 0
        best, best_rank = None, (0, 0)
        for key, label in self.labels:
            if key in used:
                continue
            if compact == label:
                rank = (3, len(label))
            elif label in compact or (compact in label and len(compact) >= 4):
                rank = (2 if min(len(label), len(compact)) >= 4 else 1, len(label) if label in compact else len(compact))
            else:
                continue
            if rank > best_rank:
                best, best_rank = key, rank
        return best, best_rank[0]


class _Chapters:
    """Splits the paragraphs into chapters (see the module docstring) and lists what is left over."""

    def __init__(self, spec: TableSpec, out: WordDocument):
        self.spec = spec
        self.out = out
        self.matcher = _Matcher(spec)
        self.used: set[str] = set()
        self.last = 0  # number of the last chapter
        self.restarted = False  # a chapter-style list restarted inside the current chapter
        self.classes: dict[str, int] = {}  # numbering classes of the chapters so far
        self.current: Chapter | None = None
        self.paragraphs_in_chapter = 0
        self.title_seen = False

    def where(self) -> str:
        if self.current is None:
            return "文档开头（第一个章节之前）"
        return f"“{self.current.heading}”第 {self.paragraphs_in_chapter} 段之后" if self.paragraphs_in_chapter else f"“{self.current.heading}”标题之后"

    def run(self, items) -> None:
        items = self.signature(items)
        for item in items:
            if isinstance(item, _Grid):
                self.out.tables.append(Table(self.where(), item.rows, item.merges))
                continue
            if isinstance(item, tuple):
                kind, text = item
                if kind == "textbox":
                    self.out.unplaced.append(Unplaced(self.where(), text, TEXT_BOX))
                elif kind == "footnote":
                    self.out.unplaced.append(Unplaced("脚注/尾注", text, FOOTNOTE))
                elif kind == "signature":
                    self.out.unplaced.append(Unplaced("文档末尾", text, SIGNATURE))
                continue
            self.paragraph(item)

    def signature(self, items):
        """A closing "单位名称 / 2021年1月25日" after the last paragraph: listed, not text of the last chapter."""
        paras = [n for n, item in enumerate(items) if isinstance(item, _Para) and item.text]
        if not paras or not _DATE.match(parser.norm(items[paras[-1]].text)):
            return items
        lines = [paras[-1]]
        if len(paras) >= 2:
            before = items[paras[-2]].text
            if len(before) <= 40 and not _SENTENCE.search(before) and not _heading(before).cls:
                lines.insert(0, paras[-2])
        text = "\n".join(items[n].text for n in lines)
        kept = [item for n, item in enumerate(items) if n not in lines]
        return kept + [("signature", text)]

    def paragraph(self, para: _Para) -> None:
        text = para.text
        if para.images:
            self.out.unplaced.append(Unplaced(self.where(), f"图片 {para.images} 张", IMAGE))
        if not text:
            return
        if self.current is None and not self.title_seen and text == self.out.title and text:
            self.title_seen = True
            self.out.unplaced.append(Unplaced("文档开头", text, REPORT_TITLE))
            return
        heading = _heading(text)
        chapter = self.chapter_of(para, heading)
        if chapter is not None:
            key, number = chapter
            self.start(para, heading, key, number)
            return
        if self.current is None:
            self.out.unplaced.append(Unplaced("文档开头（第一个章节之前）", text, BEFORE_FIRST_CHAPTER))
            return
        if heading.cls in _STRONG and heading.number and heading.number <= self.last:
            self.restarted = True
        self.current.paragraphs.append(text)
        self.paragraphs_in_chapter += 1

    def chapter_of(self, para: _Para, h: _Heading) -> tuple[str | None, int] | None:
        """(section key or None, chapter number) when the paragraph starts a chapter."""
        title_like = bool(h.title) and len(h.title) <= HEADING_MAX and not _SENTENCE.search(h.title)
        if not title_like:
            return None
        key, strength = self.matcher.match(h.title, self.used)
        next_number = self.last + 1
        in_sequence = h.number == next_number
        ahead = h.number > next_number
        dominant = max(self.classes, key=self.classes.get) if self.classes else ""
        if para.level == 1 and h.cls not in ("paren_cn", "paren_arabic", "circled") and not para.is_title:
            if h.cls and h.number and h.number <= self.last and strength < 2:
                return None
            return key, h.number or next_number
        if h.cls in _STRONG or (h.cls and h.cls == dominant and self.classes[dominant] >= 2):
            if self.restarted and strength < 2:
                return None
            if in_sequence or (ahead and strength >= 2) or (self.current is None and strength >= 2):
                return key, h.number
            return None
        if h.cls:
            # "1、" "（一）" "一是": a chapter only where the title is one the template knows.
            if h.cls == "shi" and strength < 2:
                return None
            if strength >= 1 and (in_sequence or (ahead and strength >= 2)):
                return key, h.number
            return None
        # No number (lost, or never there): the template's own title, or a long enough alias.
        if strength >= 2 and self.current is not None and not h.rest and not para.listed:
            compact = parser.norm(h.title)
            if not compact.endswith(("报告", "自评表")):
                return key, next_number
        return None

    def start(self, para: _Para, h: _Heading, key: str | None, number: int) -> None:
        if key is not None:
            self.used.add(key)
        else:
            self.out.unplaced.append(Unplaced("章节", para.text, UNKNOWN_CHAPTER))
        if h.cls:
            self.classes[h.cls] = self.classes.get(h.cls, 0) + 1
        self.last = max(number, self.last + (0 if number else 1))
        self.restarted = False
        self.current = Chapter(heading=para.text, number=h.label, title=h.title, key=key)
        self.out.chapters.append(self.current)
        self.paragraphs_in_chapter = 0
        if h.rest:
            self.current.paragraphs.append(h.rest)
            self.paragraphs_in_chapter = 1


# --- Tables -----------------------------------------------------------------------------------


def _read_tables(out: WordDocument, spec: TableSpec) -> None:
    """Every table of the document, one under the other with an empty row between, read by the
    template as one worksheet (`parser.parse_grid`): what it recognises is offered to the tables."""
    if not out.tables:
        return
    rows: list[list[str]] = []
    merges: list[tuple[int, int, int, int]] = []
    starts = []  # first sheet row (1-based) of each table
    for table in out.tables:
        offset = len(rows) + (1 if rows else 0)
        if rows:
            rows.append([])
        starts.append(offset + 1)
        rows.extend(table.rows)
        merges.extend((r1 + offset, c1, r2 + offset, c2) for r1, c1, r2, c2 in table.merges)
    try:
        parsed = parser.parse_grid(rows, merges, spec, title="Word表格")
    except parser.ParseRefused as exc:
        out.table_refusal = str(exc)
        return
    if parsed.file_kind and parsed.file_kind != spec.kind:
        out.table_refusal = TABLES_KIND_NOTE.format(found=_KIND_WORDS[parsed.file_kind], spec=spec.name)
        return
    for cell in parsed.unmapped:  # "表格2", its own row: as the officer sees the document
        number = max(n for n, start in enumerate(starts, start=1) if start <= cell.row)
        cell.sheet, cell.row = f"表格{number}", cell.row - starts[number - 1] + 1
    out.table_result = parsed.to_dict()


_KIND_WORDS = {KIND_DEPARTMENT: "部门整体支出", KIND_PROJECT: "项目支出"}
