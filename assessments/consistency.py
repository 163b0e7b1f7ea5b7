"""Consistency checks: figures quoted in the narrative report against the tables.

Pure Python (no Django import). ``check(view)`` takes the read model
(``readmodel.AssessmentView``) and returns warnings, never blocks: a unit may have good reasons,
and the reviewer decides.

The matching is deliberately conservative: a figure is compared with a table cell only when
the words around it tie it plainly to that cell, as the reports in the seeds phrase it —

    年终决算基本支出325.69万元          资金结构 · 基本支出 · 执行数
    2022年预算安排基本支出285.44万元    资金结构 · 基本支出 · 预算数
    …基本支出325.69万元，执行率为114.1%  资金结构 · 基本支出 · 执行率 (执行数 ÷ 预算数)
    其中维稳工作161.82万元               项目支出明细 · 维稳工作 · 实际支出
    1.雪亮工程建设专项项目 / 实际支出56.18万元   (the project named by the heading line)

The text of a clause up to a figure must consist only of known words: the table keyword,
years (“2024年度”), “其中：”, column words (预算安排, 年初预算, 决算, 实际支出 …) and connectors
(为, 资金, 项目支出 …). Anything else — “经调整后实际项目支出为1231.41万元”, “其中有项目支出776万元
由财政直接下拨”, “退休人员支出55.79万元”, “收入377.88万元” — means we are unsure, and nothing is said.
Approximate figures (约, 余, 以上, 左右) are never compared. A figure matches when the table value,
rounded to the figure's own precision, equals it (114.1% matches 114.08%; 325.69 ≠ 325.70).

Sums stated in one paragraph are checked too, when the whole and all its parts are there:
支出合计 = 基本支出 + 项目支出; 基本支出 = 人员经费 + 公用经费; 项目支出 = every project of the
项目支出明细.
"""

import re
import unicodedata
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from . import scoring

# --- Result ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """The table cell a figure was compared with, as labelled on the page."""

    table: str  # "资金结构"
    row: str  # "基本支出"
    column: str  # "执行数"
    value: str  # "236.60" (amounts, 万元) or "114.10%" (rates)


@dataclass(frozen=True)
class Inconsistency:
    """One warning: a figure in the report that disagrees with a table cell or with a stated sum."""

    kind: str  # "amount" | "rate" | "sum"
    section_key: str
    section_title: str
    paragraph: int  # 1-based, counting non-empty lines of the section
    sentence: str  # the whole sentence as written
    sentence_start: int  # offset of the sentence in the section body
    start: int  # offset of the figure in the section body
    end: int
    figure: str  # the figure as written: "325.70万元", "114.1%"
    excerpt: str  # "…年终决算基本支出325.70万元…"
    cell: Cell | None  # None for a sum stated in the text
    message: str


# --- Vocabulary --------------------------------------------------------------------------------

BUDGET = "budget"
INITIAL = "initial_budget"
ACTUAL = "actual"

STRUCTURE_KEYWORDS = {
    "基本支出": "basic",
    "人员支出": "personnel",
    "人员经费": "personnel",
    "公用支出": "operating",
    "公用经费": "operating",
    "项目支出": "project",
}
FUNDING_KEYWORDS = {
    "支出合计": "total",
    "支出总额": "total",
    "支出总计": "total",
    "总支出": "total",
    "整体支出": "total",
    # Not “资金总额”: in a project's report it may be the budget or the spending.
    "财政拨款": "fiscal",
    "上年结转资金": "carryover",
    "其他资金": "other",
}
COLUMN_WORDS = {
    "年初预算资金": INITIAL,
    "年初预算数": INITIAL,
    "年初预算": INITIAL,
    "年初安排": INITIAL,
    "全年预算数": BUDGET,
    "全年预算": BUDGET,
    "预算安排": BUDGET,
    "预算资金": BUDGET,
    "预算数": BUDGET,
    "预算": BUDGET,
    "安排": BUDGET,
    "全年执行数": ACTUAL,
    "执行数": ACTUAL,
    "决算数": ACTUAL,
    "决算": ACTUAL,
    "实际支出": ACTUAL,
    "实际投入": ACTUAL,
    "实际使用": ACTUAL,
    "实际": ACTUAL,
}
RATE_WORDS = ("预算执行率", "执行率")
# Words allowed around a keyword, besides column and rate words: when clause text is made of
# these only, it says nothing that could change what the figure refers to.
CONNECTORS = (
    "本年度", "本年", "年度", "全年", "当年", "年终", "年末", "本单位", "本部门", "我单位", "本委", "我委",
    "部门整体", "整体", "部门", "其中", "共计", "合计", "总计", "总额", "金额", "项目支出", "项目", "专项", "资金",
    "经费", "支出", "达到", "为", "是", "达", "共", "计", ":",
)
_YEAR = r"(?:19|20)\d{2}\s*年度?"
_YEAR_NUMBER = re.compile(r"((?:19|20)\d{2})\s*年")
# Phrases containing 预算 that are not about a budget column.
NEUTRAL_PHRASES = (
    "一般公共预算", "政府性基金预算", "国有资本经营预算", "社会保险基金预算", "预算单位", "预算执行",
    "预算编制", "预算管理", "预算绩效", "部门预算", "预算支付",
)
# Suffixes dropped to find the short names a report uses for a project: the table's
# “雪亮工程建设专项项目” is “雪亮工程项目支出” in the text, “维稳专项项目（平安建设）” is “维稳项目”.
_NAME_SUFFIXES = ("专项项目", "项目", "专项", "经费", "资金", "工作", "建设")
_MIN_ALIAS = 2

SENTENCE_END = "。！？!?"
CLAUSE_DELIMITERS = set(SENTENCE_END + "，,；;、")

_AMOUNT_RE = re.compile(r"(?<![\d.,])(?P<number>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)\s*万元")
_PERCENT_RE = re.compile(r"(?<![\d.,])(?P<number>\d+(?:\.\d+)?)\s*%")
_APPROXIMATE_BEFORE = ("约", "近", "逾", "超过", "超", "不足", "不到", "大约", "将近")
_APPROXIMATE_AFTER = ("以上", "以下", "以内", "左右", "多")
_RANGE_BEFORE = re.compile(r"[\d万元%]\s*[-~～至到—]+\s*$")  # upper end of “10-20万元”
_RANGE_AFTER = re.compile(r"^\s*[-~～至到—]+\s*\d")  # lower end of “10万元至20万元”
_HEADING_NUMBER = re.compile(r"^\s*(?:\(\s*[一二三四五六七八九十\d]+\s*\)|[一二三四五六七八九十]+\s*[、.]|\d+\s*[.、])\s*")


# --- Reading the text --------------------------------------------------------------------------


def _fold(text: str) -> str:
    """Full-width digits and signs to ASCII, one character for one, so offsets stay valid.

    The full-width comma stays: it separates clauses, while an ASCII comma may be a thousands
    separator (“1,231.41万元”)."""
    out = []
    for ch in text:
        if ch == "，":
            out.append(ch)
            continue
        folded = unicodedata.normalize("NFKC", ch)
        out.append(folded if len(folded) == 1 else ch)
    return "".join(out)


@dataclass
class _Figure:
    kind: str  # "amount" | "rate"
    start: int
    end: int
    number_text: str
    approximate: bool

    @property
    def value(self) -> Decimal:
        return Decimal(self.number_text.replace(",", ""))

    @property
    def places(self) -> int:
        return len(self.number_text.split(".")[1]) if "." in self.number_text else 0


@dataclass
class _Keyword:
    start: int
    end: int
    subject: tuple  # ("structure", item) | ("funding", source) | ("project", index)


@dataclass
class _Stated:
    """A figure attributed to a subject and column."""

    figure: _Figure
    subject: tuple
    column: str  # BUDGET | INITIAL | ACTUAL for amounts; "rate" for rates
    clause_start: int  # where the excerpt starts


def _figures(text: str) -> list[_Figure]:
    found = []
    for kind, pattern in (("amount", _AMOUNT_RE), ("rate", _PERCENT_RE)):
        for m in pattern.finditer(text):
            before = text[max(m.start() - 8, 0) : m.start()].rstrip()
            after = text[m.end() : m.end() + 8].lstrip()
            approximate = (
                before.endswith(_APPROXIMATE_BEFORE)
                or after.startswith(_APPROXIMATE_AFTER)
                or _RANGE_BEFORE.search(before) is not None
                or _RANGE_AFTER.match(after) is not None
            )
            found.append(_Figure(kind, m.start(), m.end(), m["number"], approximate))
    return sorted(found, key=lambda f: f.start)


def _project_aliases(names: list[str]) -> dict[str, int]:
    """Names (and unambiguous short names) by which the report may mention each project.

    A project's full name always wins over another project's short name (“平安建设” and
    “平安建设经费”); a short name two projects share names neither."""
    reserved = set(STRUCTURE_KEYWORDS) | set(FUNDING_KEYWORDS) | set(COLUMN_WORDS) | set(CONNECTORS)
    full_names: dict[str, set[int]] = {}
    short_names: dict[str, set[int]] = {}
    for index, name in enumerate(names):
        full = _fold(name).strip()
        if len(full) < _MIN_ALIAS:
            continue
        full_names.setdefault(full, set()).add(index)
        short = re.sub(r"[（(][^）)]*[）)]", "", full).strip()
        while len(short) >= _MIN_ALIAS:
            if short != full:
                short_names.setdefault(short, set()).add(index)
            for suffix in _NAME_SUFFIXES:
                if short.endswith(suffix) and len(short) - len(suffix) >= _MIN_ALIAS:
                    short = short[: -len(suffix)]
                    break
            else:
                break
    aliases = {
        form: next(iter(indexes))
        for form, indexes in short_names.items()
        if len(indexes) == 1 and form not in full_names and form not in reserved
    }
    aliases.update(
        {form: next(iter(indexes)) for form, indexes in full_names.items() if len(indexes) == 1 and form not in reserved}
    )
    return aliases


class _Vocabulary:
    def __init__(self, project_names: list[str], year: int | None = None):
        self.year = year
        self.subjects: dict[str, tuple] = {}
        self.subjects.update({k: ("structure", v) for k, v in STRUCTURE_KEYWORDS.items()})
        self.subjects.update({k: ("funding", v) for k, v in FUNDING_KEYWORDS.items()})
        self.subjects.update({k: ("project", v) for k, v in _project_aliases(project_names).items()})
        by_length = sorted(self.subjects, key=len, reverse=True)
        self.keyword_re = re.compile("|".join(re.escape(k) for k in by_length))
        words = sorted([*COLUMN_WORDS, *RATE_WORDS, *CONNECTORS], key=len, reverse=True)
        self.filler_re = re.compile(r"(?:\s+|" + _YEAR + "|" + "|".join(re.escape(w) for w in words) + ")*")
        self.column_re = re.compile("|".join(re.escape(w) for w in sorted(COLUMN_WORDS, key=len, reverse=True)))
        self.neutral_re = re.compile("|".join(re.escape(w) for w in NEUTRAL_PHRASES))

    def keywords(self, text: str) -> list[_Keyword]:
        return [_Keyword(m.start(), m.end(), self.subjects[m.group()]) for m in self.keyword_re.finditer(text)]

    def is_filler(self, text: str) -> bool:
        return self.filler_re.fullmatch(text) is not None

    def columns_in(self, text: str) -> list[str]:
        """Column words in text, in order (phrases such as 一般公共预算 excluded)."""
        masked = self.neutral_re.sub(lambda m: "#" * len(m.group()), text)
        return [COLUMN_WORDS[m.group()] for m in self.column_re.finditer(masked)]


def _paragraphs(body: str):
    """(number, start offset, line) for each non-empty line."""
    number = 0
    offset = 0
    for line in body.split("\n"):
        if line.strip():
            number += 1
            yield number, offset, line
        offset += len(line) + 1


def _sentences(line: str):
    """(start, end) of each sentence in a line; the end includes the closing punctuation."""
    start = 0
    for i, ch in enumerate(line):
        if ch in SENTENCE_END:
            yield start, i + 1
            start = i + 1
    if line[start:].strip():
        yield start, len(line)


def _heading_subject(line: str, vocabulary: _Vocabulary):
    """For a heading line (“1.雪亮工程建设专项项目”): the project it names, or None.
    Returns False when the line is not a heading (the current heading then still applies)."""
    match = _HEADING_NUMBER.match(line)
    if not match or "。" in line or len(line.strip()) > 30 or _AMOUNT_RE.search(line):
        return False
    name = line[match.end() :].strip().rstrip(":：")
    subject = vocabulary.subjects.get(name)
    return subject if subject and subject[0] == "project" else None


# --- Attribution --------------------------------------------------------------------------------


def _attribute(text: str, sentence: tuple[int, int], figures, keywords, vocabulary, heading) -> list[_Stated]:
    """The figures of one sentence that clearly refer to a subject and column."""
    s_start, s_end = sentence
    keywords = [k for k in keywords if s_start <= k.start < s_end]
    in_keyword = set()
    for k in keywords:
        in_keyword.update(range(k.start, k.end))
    stated: list[_Stated] = []
    previous: _Stated | None = None  # the last figure of the sentence, if it was attributed
    seen_figure = False
    cursor = s_start
    for figure in figures:
        if not (s_start <= figure.start < s_end):
            continue
        clause_start = cursor
        for i in range(figure.start - 1, cursor - 1, -1):
            if text[i] in CLAUSE_DELIMITERS and i not in in_keyword:
                clause_start = i + 1
                break
        result = None
        if not figure.approximate:
            result = _attribute_one(text, figure, clause_start, s_start, keywords, vocabulary,
                                    previous=previous, first=not seen_figure, heading=heading)
        # “…项目支出1154万元，实际支出455.41万元，其中项目支出776万元由财政直接下拨”: a part of a
        # subject already stated in the sentence, not the subject itself.
        if result and "其中" in text[clause_start : figure.start] and any(
            s.subject == result.subject for s in stated
        ):
            result = None
        seen_figure = True
        previous = result
        if result:
            stated.append(result)
        cursor = figure.end
    return stated


def _attribute_one(text, figure, clause_start, sentence_start, keywords, vocabulary, *, previous, first, heading):
    segment_keywords = [k for k in keywords if clause_start <= k.start and k.end <= figure.start]
    subjects = [k.subject for k in segment_keywords]
    # “雪亮工程项目支出56.18万元”: the project, not the 项目支出 total.
    if len(subjects) == 2 and subjects[0][0] == "project" and subjects[1] == ("structure", "project"):
        segment_keywords = segment_keywords[:1]
        subjects = subjects[:1]
    if len(set(subjects)) > 1:
        return None
    pieces = []
    cursor = clause_start
    for k in segment_keywords:
        pieces.append(text[cursor : k.start])
        cursor = k.end
    pieces.append(text[cursor : figure.start])
    if not all(vocabulary.is_filler(p) for p in pieces):
        return None
    words = "".join(pieces)
    if any(int(y) != vocabulary.year for y in _YEAR_NUMBER.findall(words)):
        return None  # another year's figure
    has_rate_word = any(w in words for w in RATE_WORDS)
    columns = vocabulary.columns_in(words)

    if figure.kind == "rate":
        if not has_rate_word:
            return None
        if subjects:
            subject = subjects[0]
        elif previous is not None:
            subject = previous.subject
        elif heading:
            subject = heading
        elif first:
            subject = ("funding", "total")
        else:
            return None
        excerpt_start = previous.clause_start if previous is not None and not subjects else clause_start
        return _Stated(figure, subject, "rate", excerpt_start)

    if has_rate_word:
        return None
    if subjects:
        subject = subjects[0]
    elif columns and previous is not None:
        subject = previous.subject
    elif columns and heading:
        subject = heading
    else:
        return None
    if columns:
        column = columns[-1]
    else:
        earlier = vocabulary.columns_in(_outside(text[sentence_start:clause_start], keywords, sentence_start))
        column = earlier[-1] if earlier else ACTUAL
    return _Stated(figure, subject, column, clause_start)


def _outside(text: str, keywords, offset: int) -> str:
    """text with keyword spans blanked (a project named “预算…” is not a column word)."""
    chars = list(text)
    for k in keywords:
        for i in range(max(k.start - offset, 0), min(k.end - offset, len(chars))):
            chars[i] = "#"
    return "".join(chars)


# --- Table cells --------------------------------------------------------------------------------


def _clean_label(label: str) -> str:
    return re.sub(r"^(?:其中：|（\d+）|\(\d+\))", "", label).strip()


def _table_name(caption: str) -> str:
    return re.sub(r"（万元）$", "", caption)


def _amount_cells(view, subject, column) -> list[tuple[Cell, Decimal]]:
    kind, key = subject
    cells = []
    if kind == "structure":
        line = next((s for s in view.structure if s.item == key), None)
        if line is None:
            return []
        value, label = (line.actual, "执行数") if column == ACTUAL else (line.budget, "预算数")
        if value is not None:
            cells.append((Cell("资金结构", _clean_label(line.label), label, scoring.fmt(value)), value))
    elif kind == "funding":
        line = next((f for f in view.funding if f.source == key), None)
        if line is None:
            return []
        labels = {c.key: c.label for c in view.table.funding_columns}
        if column == ACTUAL:
            fields = ["actual"]
        elif column == INITIAL:
            fields = ["initial_budget"]
        else:  # a plain 预算 may be either budget column the layout shows
            fields = ["budget", "initial_budget"]
        for name in fields:
            value = getattr(line, name)
            if name in labels and value is not None:
                cell = Cell(_table_name(view.table.funding_caption), _clean_label(line.label),
                            _clean_label(labels[name]), scoring.fmt(value))
                cells.append((cell, value))
    elif kind == "project":
        p = view.project_expenses[key]
        value, label = (p.actual, "实际支出") if column == ACTUAL else (p.budget, "年初预算")
        if value is not None:
            cells.append((Cell("项目支出明细", p.name, label, scoring.fmt(value)), value))
    return cells


def _rate_cells(view, subject) -> list[tuple[Cell, list[Decimal]]]:
    kind, key = subject
    if kind == "funding":
        line = next((f for f in view.funding if f.source == key), None)
        if line is None or line.rate is None:
            return []
        exact = _ratio(line.actual, line.budget if line.budget is not None else line.initial_budget)
        values = [line.rate] + ([exact] if exact is not None else [])
        cell = Cell(_table_name(view.table.funding_caption), _clean_label(line.label), "执行率", f"{scoring.fmt(line.rate)}%")
        return [(cell, values)]
    if kind == "structure":
        line = next((s for s in view.structure if s.item == key), None)
        if line is None:
            return []
        table, row, actual, budget = "资金结构", _clean_label(line.label), line.actual, line.budget
    else:
        p = view.project_expenses[key]
        table, row, actual, budget = "项目支出明细", p.name, p.actual, p.budget
    exact = _ratio(actual, budget)
    if exact is None:
        return []
    return [(Cell(table, row, "执行率", f"{scoring.fmt(exact)}%"), [exact, scoring.quantize(exact)])]


def _ratio(actual, budget) -> Decimal | None:
    if actual is None or not budget:
        return None
    return actual * 100 / budget


def _agrees(stated: Decimal, places: int, value: Decimal) -> bool:
    try:
        return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP) == stated
    except InvalidOperation:
        return False


# --- Checking -----------------------------------------------------------------------------------

_EXCERPT_MAX = 40


def _excerpt(body: str, sentence: tuple[int, int], start: int, end: int) -> str:
    s_start, s_end = sentence
    content_end = s_end
    while content_end > s_start and (body[content_end - 1] in CLAUSE_DELIMITERS or body[content_end - 1].isspace()):
        content_end -= 1
    while start < end and body[start].isspace():
        start += 1
    if end - start > _EXCERPT_MAX:
        start = end - _EXCERPT_MAX
    lead = "…" if start > s_start and body[s_start:start].strip() else ""
    tail = "…" if end < content_end else ""
    return f"{lead}{body[start:end]}{tail}"


def check(view) -> list[Inconsistency]:
    """Warnings for figures in the report that disagree with the tables (see the module docstring)."""
    vocabulary = _Vocabulary([p.name for p in view.project_expenses], view.assessment.round.year)
    warnings: list[Inconsistency] = []
    for section in view.sections:
        if section.body.strip():
            warnings += _check_section(view, section, vocabulary)
    return warnings


def _check_section(view, section, vocabulary) -> list[Inconsistency]:
    original = section.body
    text = _fold(original)
    figures = _figures(text)
    keywords = vocabulary.keywords(text)
    found = []
    heading = None
    for number, offset, line in _paragraphs(text):
        subject = _heading_subject(line, vocabulary)
        if subject is not False:
            heading = subject
            continue
        stated_in_paragraph = []
        for start, end in _sentences(line):
            sentence = (offset + start, offset + end)
            stated = _attribute(text, sentence, figures, keywords, vocabulary, heading)
            stated_in_paragraph += [(s, sentence) for s in stated]
            for s in stated:
                warning = _compare(view, section, number, original, sentence, s)
                if warning:
                    found.append(warning)
        found += _check_sums(view, section, number, original, stated_in_paragraph)
    return found


def _where(section, number, body, sentence, start, end, excerpt_start) -> dict:
    written = body[sentence[0] : sentence[1]]
    return {
        "section_key": section.key,
        "section_title": section.title,
        "paragraph": number,
        "sentence": written.strip(),
        "sentence_start": sentence[0] + len(written) - len(written.lstrip()),
        "start": start,
        "end": end,
        "figure": body[start:end],
        "excerpt": _excerpt(body, sentence, excerpt_start, end),
    }


def _compare(view, section, number, body, sentence, stated: _Stated) -> Inconsistency | None:
    figure = stated.figure
    if stated.column == "rate":
        candidates = _rate_cells(view, stated.subject)
        if not candidates:
            return None
        if any(_agrees(figure.value, figure.places, v) for _, values in candidates for v in values):
            return None
    else:
        candidates = _amount_cells(view, stated.subject, stated.column)
        if not candidates:
            return None
        if any(_agrees(figure.value, figure.places, v) for _, v in candidates):
            return None
    cell = candidates[0][0]
    where = _where(section, number, body, sentence, figure.start, figure.end, stated.clause_start)
    message = (
        f"报告“{section.title}”第{number}段：“{where['excerpt']}” 与 "
        f"{cell.table}“{cell.row}·{cell.column}” {cell.value} 不一致"
    )
    return Inconsistency(kind="rate" if stated.column == "rate" else "amount", cell=cell, message=message, **where)


def _decompositions(view) -> list[tuple[tuple, list[tuple]]]:
    parts = [
        (("funding", "total"), [("structure", "basic"), ("structure", "project")]),
        (("structure", "basic"), [("structure", "personnel"), ("structure", "operating")]),
    ]
    if len(view.project_expenses) >= 2:
        parts.append((("structure", "project"), [("project", i) for i in range(len(view.project_expenses))]))
    return parts


def _check_sums(view, section, number, body, stated_in_paragraph) -> list[Inconsistency]:
    amounts = [(s, sentence) for s, sentence in stated_in_paragraph if s.column != "rate"]
    found = []
    for whole_subject, part_subjects in _decompositions(view):
        for column in (ACTUAL, BUDGET, INITIAL):
            by_subject: dict[tuple, list] = {}
            for s, sentence in amounts:
                if s.column == column:
                    by_subject.setdefault(s.subject, []).append((s, sentence))
            needed = [whole_subject, *part_subjects]
            # Every part stated, each once (or always with the same value): otherwise unsure.
            if not all(len({x.figure.value for x, _ in by_subject.get(k, [])}) == 1 for k in needed):
                continue
            whole, whole_sentence = by_subject[whole_subject][0]
            parts = [by_subject[k][0][0] for k in part_subjects]
            total = sum((p.figure.value for p in parts), Decimal(0))
            if _agrees(whole.figure.value, whole.figure.places, total):
                continue
            where = _where(section, number, body, whole_sentence, whole.figure.start, whole.figure.end, whole.clause_start)
            listed = " + ".join(_part_text(body, p) for p in parts)
            message = (
                f"报告“{section.title}”第{number}段：“{where['excerpt']}” 与所列各项之和不一致："
                f"{listed} = {scoring.fmt(total)}万元"
            )
            found.append(Inconsistency(kind="sum", cell=None, message=message, **where))
    return found


def _part_text(body: str, stated: _Stated) -> str:
    """A part as written, without a leading “其中：” (“基本支出236.60万元”)."""
    text = body[stated.clause_start : stated.figure.end].strip()
    return re.sub(r"^其中\s*[：:]?\s*", "", text)
