"""Personal data masked out of everything an assessment publishes (issue 12, finding 5).

`public_view(view)` returns a copy of the read model in which every text a unit typed (header,
funding reasons, goals, project list, indicator rows, report sections) is passed through
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

HEADER_FIELDS = [
    ("project_name", "项目名称"),
    ("project_leader", "项目负责人"),
    ("supervisor_name", "主管部门"),
    ("implementer", "实施单位"),
    ("duties", "部门职责"),
]
GOAL_FIELDS = [("target", "目标"), ("achieved", "完成情况")]
EXPENSE_FIELDS = [("name", "项目名称"), ("note", "说明")]
INDICATOR_FIELDS = [("level2", "二级指标"), ("name", "三级指标"), ("target", "指标值"), ("actual", "实际完成值"),
                    ("reason", "偏差原因")]
SECTION_FIELDS = [("title", "标题"), ("body", "内容")]


@dataclass(frozen=True)
class Change:
    """One piece of personal data that the public will see masked."""

    field: str
    kind: str
    original: str
    masked: str


def _texts(view):
    """(object, attribute, label) for every published text of `view`; the single declaration
    both functions below walk."""
    a = view.assessment
    for attr, label in HEADER_FIELDS:
        yield a, attr, label
    for f in view.funding:
        yield f, "reason", f"资金情况“{f.label}”：差异原因"
    for n, g in enumerate(view.goals, start=1):
        for attr, label in GOAL_FIELDS:
            yield g, attr, f"年度目标第{n}条：{label}"
    for n, p in enumerate(view.project_expenses, start=1):
        if not p.confidential:  # replaced by the 涉密 notice before publishing
            for attr, label in EXPENSE_FIELDS:
                yield p, attr, f"项目支出第{n}项：{label}"
    for line in view.indicators:
        for attr, label in INDICATOR_FIELDS:
            yield line, attr, f"绩效指标第{line.number}行：{label}"
    for s in view.sections:
        for attr, label in SECTION_FIELDS:
            yield s, attr, f"报告第{s.number}部分“{s.title}”：{label}"


def public_view(view):
    """A copy of `view` with personal data masked in every published text (the input is left
    as it is: its rows may be the caller's prefetched model instances)."""
    copies = {}

    def own(obj):
        if id(obj) not in copies:
            copies[id(obj)] = dataclasses.replace(obj) if dataclasses.is_dataclass(obj) else copy.copy(obj)
        return copies[id(obj)]

    for obj, attr, _ in _texts(view):
        value = getattr(obj, attr) or ""
        masked = personal_data.mask(value)
        if masked != value:
            setattr(own(obj), attr, masked)
    if not copies:
        return view
    replaced = dataclasses.replace(
        view,
        assessment=copies.get(id(view.assessment), view.assessment),
        funding=[copies.get(id(f), f) for f in view.funding],
        goals=[copies.get(id(g), g) for g in view.goals],
        project_expenses=[copies.get(id(p), p) for p in view.project_expenses],
        indicators=[copies.get(id(i), i) for i in view.indicators],
        sections=[copies.get(id(s), s) for s in view.sections],
    )
    return replaced


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
    for obj, attr, label in _texts(view):
        for match in personal_data.find(getattr(obj, attr) or ""):
            found.append(Change(label, match.label, match.text, match.masked))
    return found
