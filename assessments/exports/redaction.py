"""Personal data masked out of everything an assessment publishes (issue 12, finding 5).

`public_view(view)` returns a copy of the read model in which every text a unit typed (header,
funding reasons, goals, project list, indicator rows, blocks under the table, report sections,
and the texts of a 表样's own columns and fields) is passed through
`personal_data.mask`; `exports.public.build_public` calls it once, so the public page, the JSON,
the xlsx, the CSV (read from the stored JSON), the bulk ZIP (the stored files) and the search
text all carry the masked text. `changes(view)` lists, from the same declaration of fields, what
will be masked, for the officer before submitting. Reviewers read the unmasked read model.

The project leader's phone number keeps its own rule (`public.mask_phone`, unless marked as an
office line) and is not masked again here.
"""

import copy
import dataclasses
from dataclasses import dataclass

from .. import personal_data

# Header fields kept in the assessment's own columns (a template's own fields are in `extra`).
HEADER_ATTRS = ("project_name", "project_leader", "supervisor_name", "implementer", "duties")
GOAL_FIELDS = [("target", "目标"), ("achieved", "完成情况")]
EXPENSE_FIELDS = [("name", "项目名称"), ("note", "说明")]
INDICATOR_ATTRS = ("level2", "name", "target", "actual", "reason")
SECTION_FIELDS = [("title", "标题"), ("body", "内容")]


@dataclass(frozen=True)
class Change:
    """One piece of personal data that the public will see masked."""

    field: str
    kind: str
    original: str
    masked: str


def _texts(view):
    """(object, attribute or key, label) for every published text of `view`, as its 表样 names
    them; the single declaration both functions below walk. A template's own columns and header
    fields are the keys of the row's `extra` dict (only their texts: numbers and amounts are not
    personal data)."""
    a, table = view.assessment, view.table
    header_labels = {f.key: f.label for f in table.header}
    for attr in HEADER_ATTRS:
        label = header_labels.get(attr) or header_labels.get("leader_and_phone" if attr == "project_leader" else "", "")
        yield a, attr, label or attr
    for f in table.header:
        if f.key in (a.extra or {}) and f.kind in ("text", "long_text"):
            yield a.extra, f.key, f.label
    reason = table.funding_column("reason")
    own_funding = [c for c in table.funding_columns if c.key not in FUNDING_KNOWN and c.kind in ("text", "long_text")]
    for f in view.funding:
        yield f, "reason", f"{_caption(table.funding_caption)}“{f.label}”：{reason.label if reason else '原因'}"
        for c in own_funding:
            if c.key in f.extra:
                yield f.extra, c.key, f"{_caption(table.funding_caption)}“{f.label}”：{c.label}"
    for n, g in enumerate(view.goals, start=1):
        for attr, label in GOAL_FIELDS:
            yield g, attr, f"{table.goal_caption}第{n}条：{label}"
    for n, p in enumerate(view.project_expenses, start=1):
        if not p.confidential:  # replaced by the 涉密 notice before publishing
            for attr, label in EXPENSE_FIELDS:
                yield p, attr, f"项目支出第{n}项：{label}"
    columns = {c.key: c for c in table.indicator_columns}
    for line in view.indicators:
        for attr in INDICATOR_ATTRS:
            yield line, attr, f"绩效指标第{line.number}行：{columns[attr].label if attr in columns else attr}"
        for key, c in columns.items():
            if key in line.extra and c.kind in ("text", "long_text") and key not in INDICATOR_KNOWN:
                yield line.extra, key, f"绩效指标第{line.number}行：{c.label}"
    for s in view.blocks:
        yield s, "body", f"“{s.title}”"
    for s in view.sections:
        for attr, label in SECTION_FIELDS:
            yield s, attr, f"报告第{s.number}部分“{s.title}”：{label}"


FUNDING_KNOWN = {"initial_budget", "budget", "actual", "rate", "weight", "score", "reason"}
INDICATOR_KNOWN = {"level1", "level2", "name", "operator", "target", "unit", "actual", "weight", "score", "reason"}


def _caption(caption: str) -> str:
    return caption.split("（")[0]


def _get(obj, key):
    return obj.get(key) if isinstance(obj, dict) else getattr(obj, key)


def public_view(view):
    """A copy of `view` with personal data masked in every published text (the input is left
    as it is: its rows may be the caller's prefetched model instances)."""
    copies = {}

    def own(obj):
        if id(obj) not in copies:
            if isinstance(obj, dict):
                copies[id(obj)] = dict(obj)
            else:
                copies[id(obj)] = dataclasses.replace(obj) if dataclasses.is_dataclass(obj) else copy.copy(obj)
        return copies[id(obj)]

    for obj, key, _ in _texts(view):
        value = _get(obj, key) or ""
        if not isinstance(value, str):
            continue
        masked = personal_data.mask(value)
        if masked != value:
            target = own(obj)
            if isinstance(target, dict):
                target[key] = masked
            else:
                setattr(target, key, masked)
    if not copies:
        return view

    def with_extra(obj):
        """The (copied) row, carrying its masked `extra` when that was copied."""
        row = copies.get(id(obj), obj)
        extra = getattr(obj, "extra", None)
        if extra is not None and id(extra) in copies:
            row = own(obj)
            row.extra = copies[id(extra)]
        return row

    return dataclasses.replace(
        view,
        assessment=with_extra(view.assessment),
        funding=[with_extra(f) for f in view.funding],
        goals=[copies.get(id(g), g) for g in view.goals],
        project_expenses=[copies.get(id(p), p) for p in view.project_expenses],
        indicators=[with_extra(i) for i in view.indicators],
        sections=[copies.get(id(s), s) for s in view.sections],
        blocks=[copies.get(id(s), s) for s in view.blocks],
    )


def changes(view) -> list[Change]:
    """What publishing `view` will mask, in the order of the form: field, original → masked."""
    from .public import mask_phone

    a = view.assessment
    if a.confidential:  # never published
        return []
    found = []
    if a.leader_phone and not a.leader_phone_is_office:
        masked = mask_phone(a.leader_phone)
        if masked != a.leader_phone:
            found.append(Change("项目负责人电话", "手机号码或电话", a.leader_phone, masked))
    for obj, key, label in _texts(view):
        value = _get(obj, key)
        for match in personal_data.find(value if isinstance(value, str) else ""):
            found.append(Change(label, match.label, match.text, match.masked))
    return found
