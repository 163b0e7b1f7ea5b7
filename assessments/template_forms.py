"""The 表样 editor's forms: one form for the template's settings and one formset per list in the
declaration (header fields, funding columns and rows, 资金结构 rows, indicator columns, 一级,
blocks under the table, report sections). `spec_from_forms` builds a `TableSpec` from them and
`initial_from_spec` fills them from one, so the editor reads and writes the declaration itself."""

import re
from decimal import Decimal

from django import forms

from .formlabels import LabelledRowsMixin, label_row
from .tablespec import (
    FUNDING_COLUMNS,
    HEADER_FIELDS,
    INDICATOR_COLUMNS,
    PLACE_BOTTOM,
    PLACE_TOP,
    REASON_BLOCK,
    REASON_WARN,
    VALUE_KINDS,
    WEIGHTS_OPTIONAL,
    WEIGHTS_REQUIRED,
    WIDTH_FULL,
    WIDTH_HALF,
    WIDTH_LONG,
    Column,
    FundingRowSpec,
    HeaderField,
    Level1Spec,
    SectionSpec,
    TableSpec,
)

_LIST_SPLIT = re.compile(r"[,，、;；\n]+")


def split_list(text: str) -> tuple[str, ...]:
    """"数量指标、质量指标, 时效指标" -> ("数量指标", "质量指标", "时效指标")."""
    return tuple(item.strip() for item in _LIST_SPLIT.split(text or "") if item.strip())


def join_list(items) -> str:
    return "、".join(items)


def _small(**attrs):
    return forms.TextInput(attrs={"class": "form-control form-control-sm", **attrs})


class SettingsForm(forms.Form):
    name = forms.CharField(label="表样名称", max_length=100, widget=_small())
    title = forms.CharField(label="表格标题", max_length=60, widget=_small(), help_text="如“项目支出绩效自评表”；表头显示为“2024年度……”")
    funding_caption = forms.CharField(label="资金表标题", max_length=40, widget=_small())
    funding_label_header = forms.CharField(label="资金表首列名称", max_length=20, widget=_small())
    goal_caption = forms.CharField(label="总体目标标题", max_length=30, widget=_small())
    goal_target_label = forms.CharField(label="目标列名称", max_length=30, widget=_small())
    goal_achieved_label = forms.CharField(label="完成情况列名称", max_length=30, widget=_small())
    goal_target_aliases = forms.CharField(label="目标列的其他写法", required=False, max_length=200, widget=_small())
    goal_achieved_aliases = forms.CharField(label="完成情况列的其他写法", required=False, max_length=200, widget=_small())
    indicator_caption = forms.CharField(label="绩效指标表标题", max_length=30, widget=_small())
    indicator_caption_weight = forms.BooleanField(label="标题注明总分值（如“绩效指标（90分）”）", required=False)
    level1_caption_weight = forms.BooleanField(label="一级指标注明分值（如“产出指标（50分）”）", required=False)
    structure_caption = forms.CharField(label="资金结构标题", required=False, max_length=30, widget=_small(),
                                        help_text="没有资金结构时留空并删除下方各行")
    structure_item_label = forms.CharField(label="资金结构首列名称", required=False, max_length=20, widget=_small())
    structure_budget_label = forms.CharField(label="资金结构预算列名称", required=False, max_length=20, widget=_small())
    structure_actual_label = forms.CharField(label="资金结构执行列名称", required=False, max_length=20, widget=_small())
    expenses = forms.BooleanField(label="附项目支出明细", required=False)
    report_title = forms.CharField(label="自评报告名称", required=False, max_length=40, widget=_small(),
                                   help_text="没有文字报告时留空并删除下方报告章节")
    reason_policy = forms.ChoiceField(
        label="偏差、超额完成和执行率异常须说明原因", choices=[(REASON_BLOCK, "未填写则不能提交"), (REASON_WARN, "仅提示，不阻止提交")],
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )
    weights = forms.ChoiceField(
        label="分值", choices=[(WEIGHTS_OPTIONAL, "可不设分值（不设则不计分）"), (WEIGHTS_REQUIRED, "必须设分值")],
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )
    note = forms.CharField(label="说明（来源、适用范围）", required=False, max_length=500,
                           widget=forms.Textarea(attrs={"rows": 2, "class": "form-control form-control-sm"}))


KIND_CHOICES = list(VALUE_KINDS.items())


class _RowForm(forms.Form):
    """A row of one of the declaration's lists."""

    def has_changed(self):
        return any(name not in ("ORDER", "DELETE") for name in self.changed_data)


class HeaderFieldForm(_RowForm):
    key = forms.CharField(label="代码", max_length=30, widget=_small(list="header-keys"))
    label = forms.CharField(label="名称", max_length=40, widget=_small())
    required = forms.BooleanField(label="必填", required=False)
    width = forms.ChoiceField(label="宽度", choices=[(WIDTH_HALF, "半行"), (WIDTH_FULL, "整行"), (WIDTH_LONG, "长文本")],
                              widget=forms.Select(attrs={"class": "form-select form-select-sm"}))
    place = forms.ChoiceField(label="位置", choices=[(PLACE_TOP, "表头"), (PLACE_BOTTOM, "表下")],
                              widget=forms.Select(attrs={"class": "form-select form-select-sm"}))
    kind = forms.ChoiceField(label="类型（自定义栏目）", choices=KIND_CHOICES, initial="text",
                             widget=forms.Select(attrs={"class": "form-select form-select-sm"}))
    aliases = forms.CharField(label="其他写法（导入时识别）", required=False, max_length=200, widget=_small())


class ColumnForm(_RowForm):
    key = forms.CharField(label="代码", max_length=30, widget=_small())
    label = forms.CharField(label="列名", max_length=40, widget=_small())
    kind = forms.ChoiceField(label="类型（自定义列）", choices=KIND_CHOICES, initial="text",
                             widget=forms.Select(attrs={"class": "form-select form-select-sm"}))
    when_weighted = forms.BooleanField(label="设分值时才显示", required=False)
    aliases = forms.CharField(label="其他写法（导入时识别）", required=False, max_length=200, widget=_small())


class RowForm(_RowForm):
    key = forms.CharField(label="代码", max_length=30, widget=_small())
    label = forms.CharField(label="行名", max_length=40, widget=_small())
    weight = forms.DecimalField(label="分值（预算执行率）", required=False, min_value=Decimal(0), max_digits=5, decimal_places=2,
                                widget=_small(inputmode="decimal"))
    parts = forms.CharField(label="由哪些行相加（代码）", required=False, max_length=200, widget=_small())
    aliases = forms.CharField(label="其他写法（导入时识别）", required=False, max_length=200, widget=_small())


class Level1Form(_RowForm):
    name = forms.CharField(label="一级指标", max_length=30, widget=_small())
    weight = forms.DecimalField(label="分值", required=False, min_value=Decimal(0), max_digits=5, decimal_places=2,
                                widget=_small(inputmode="decimal"))
    level2 = forms.CharField(label="二级指标建议", required=False, max_length=300, widget=_small())
    shares = forms.CharField(label="与哪个一级指标共用分值", required=False, max_length=30, widget=_small())


class SectionForm(_RowForm):
    key = forms.CharField(label="代码", max_length=30, widget=_small())
    title = forms.CharField(label="标题", max_length=60, widget=_small())
    aliases = forms.CharField(label="其他写法（导入时识别）", required=False, max_length=200, widget=_small())


class _LabelledFormSet(LabelledRowsMixin, forms.BaseFormSet):
    row_noun = "行"


def _formset(form):
    return forms.formset_factory(form, formset=_LabelledFormSet, extra=1, can_delete=True, can_order=True)


PARTS = {
    # prefix: (formset, heading, explanation)
    "header": (_formset(HeaderFieldForm), "表头栏目",
               "代码为 " + "、".join(f"{k}（{v[0]}）" for k, v in HEADER_FIELDS.items()) + "；其他代码为自定义栏目（如 report_number 报表编号）。"),
    "funding_columns": (_formset(ColumnForm), "资金表的列",
                        "代码为 " + "、".join(f"{k}（{v[0]}）" for k, v in FUNDING_COLUMNS.items()) + "；其他代码为自定义列。"),
    "funding_rows": (_formset(RowForm), "资金表的行",
                     "填写分值的行计算预算执行率得分（通常是合计行）；“由哪些行相加”不相符时提示。"),
    "structure_rows": (_formset(RowForm), "资金结构的行", "部门整体支出表的基本支出、人员支出等；没有资金结构时全部删除。"),
    "indicator_columns": (_formset(ColumnForm), "绩效指标表的列",
                          "代码为 " + "、".join(f"{k}（{v[0]}）" for k, v in INDICATOR_COLUMNS.items()) + "；其他代码为自定义列（如 note 备注）。"),
    "level1": (_formset(Level1Form), "一级指标及分值", "二级指标建议用顿号分隔；成本指标等可与产出指标共用分值。"),
    "blocks": (_formset(SectionForm), "表下栏目", "如评价结论、存在问题、改进措施。"),
    "sections": (_formset(SectionForm), "自评报告章节", "按顺序编号（一、二、……）。"),
}


def initial_from_spec(spec: TableSpec) -> dict:
    """Initial data for SettingsForm and every part's formset."""
    settings = {
        "name": spec.name, "title": spec.title, "funding_caption": spec.funding_caption,
        "funding_label_header": spec.funding_label_header, "goal_caption": spec.goal_caption,
        "goal_target_label": spec.goal_labels[0], "goal_achieved_label": spec.goal_labels[1],
        "goal_target_aliases": join_list(spec.goal_aliases[0]), "goal_achieved_aliases": join_list(spec.goal_aliases[1]),
        "indicator_caption": spec.indicator_caption, "indicator_caption_weight": spec.indicator_caption_weight,
        "level1_caption_weight": spec.level1_caption_weight, "structure_caption": spec.structure_caption,
        "structure_item_label": spec.structure_labels[0], "structure_budget_label": spec.structure_labels[1],
        "structure_actual_label": spec.structure_labels[2], "expenses": spec.expenses, "report_title": spec.report_title,
        "reason_policy": spec.reason_policy, "weights": spec.weights, "note": spec.note,
    }
    parts = {
        "header": [{"key": f.key, "label": f.label, "required": f.required, "width": f.width, "place": f.place, "kind": f.kind,
                    "aliases": join_list(f.aliases)} for f in spec.header],
        "funding_columns": [_column(c) for c in spec.funding_columns],
        "funding_rows": [_row(r) for r in spec.funding_rows],
        "structure_rows": [_row(r) for r in spec.structure_rows],
        "indicator_columns": [_column(c) for c in spec.indicator_columns],
        "level1": [{"name": level.name, "weight": level.weight, "level2": join_list(level.level2), "shares": level.shares}
                   for level in spec.level1],
        "blocks": [_section(s) for s in spec.blocks],
        "sections": [_section(s) for s in spec.sections],
    }
    return {"settings": settings, "parts": parts}


def _column(c: Column) -> dict:
    return {"key": c.key, "label": c.label, "kind": c.kind, "when_weighted": c.when_weighted, "aliases": join_list(c.aliases)}


def _row(r: FundingRowSpec) -> dict:
    return {"key": r.key, "label": r.label, "weight": r.weight, "parts": join_list(r.parts), "aliases": join_list(r.aliases)}


def _section(s: SectionSpec) -> dict:
    return {"key": s.key, "title": s.title, "aliases": join_list(s.aliases)}


class EditorForms:
    """The settings form and every part's formset, bound together."""

    def __init__(self, spec: TableSpec, data=None):
        self.spec = spec
        initial = initial_from_spec(spec)
        self.settings = SettingsForm(data, initial=initial["settings"], prefix="settings")
        self.parts = {}
        for prefix, (formset_class, heading, help_text) in PARTS.items():
            formset = formset_class(data, initial=initial["parts"][prefix], prefix=prefix)
            formset.heading, formset.help_text, formset.part = heading, help_text, prefix
            for n, form in enumerate(formset.forms):
                label_row(form, n, "", name=f"{heading}第{n + 1}行")
            self.parts[prefix] = formset
        self.note = ((data or {}).get("version_note") or "").strip()[:200]

    def is_valid(self) -> bool:
        return all([self.settings.is_valid(), *[f.is_valid() for f in self.parts.values()]])

    def errors(self) -> list[str]:
        out = [f"{self.settings.fields[name].label}：{e}" for name, errors in self.settings.errors.items() for e in errors]
        for formset in self.parts.values():
            for n, form in enumerate(formset.forms, start=1):
                for name, errors in form.errors.items():
                    label = form.fields[name].label if name in form.fields else ""
                    out += [f"{formset.heading}第{n}行「{label}」：{e}" for e in errors]
        return out

    def rows(self, prefix: str) -> list[dict]:
        """The kept rows of a part, in their chosen order."""
        formset = self.parts[prefix]
        kept = []
        for n, form in enumerate(formset.forms):
            data = getattr(form, "cleaned_data", {})
            if not data or data.get("DELETE") or not form.has_changed() and n >= formset.initial_form_count():
                continue
            kept.append((data.get("ORDER") if data.get("ORDER") is not None else 10**6, n, data))
        return [data for _, _, data in sorted(kept, key=lambda t: (t[0], t[1]))]

    def build_spec(self) -> TableSpec:
        """The declaration the forms describe (not yet validated as a whole: see TableSpec.from_dict)."""
        s = self.settings.cleaned_data
        return self.spec.evolve(
            name=s["name"], title=s["title"], funding_caption=s["funding_caption"],
            funding_label_header=s["funding_label_header"], goal_caption=s["goal_caption"],
            goal_labels=(s["goal_target_label"], s["goal_achieved_label"]),
            goal_aliases=(split_list(s["goal_target_aliases"]), split_list(s["goal_achieved_aliases"])),
            indicator_caption=s["indicator_caption"], indicator_caption_weight=s["indicator_caption_weight"],
            level1_caption_weight=s["level1_caption_weight"], structure_caption=s["structure_caption"],
            structure_labels=(s["structure_item_label"] or "支出", s["structure_budget_label"] or "预算数",
                              s["structure_actual_label"] or "执行数"),
            expenses=s["expenses"], report_title=s["report_title"], reason_policy=s["reason_policy"],
            weights=s["weights"], note=s["note"],
            header=tuple(
                HeaderField(r["key"].strip(), r["label"].strip(), r["required"], r["width"], r["place"], r["kind"],
                            split_list(r["aliases"]))
                for r in self.rows("header")
            ),
            funding_columns=tuple(_column_spec(r) for r in self.rows("funding_columns")),
            funding_rows=tuple(_row_spec(r) for r in self.rows("funding_rows")),
            structure_rows=tuple(_row_spec(r) for r in self.rows("structure_rows")),
            indicator_columns=tuple(_column_spec(r) for r in self.rows("indicator_columns")),
            level1=tuple(
                Level1Spec(r["name"].strip(), r["weight"], split_list(r["level2"]), (r["shares"] or "").strip())
                for r in self.rows("level1")
            ),
            blocks=tuple(_section_spec(r) for r in self.rows("blocks")),
            sections=tuple(_section_spec(r) for r in self.rows("sections")),
        )


def _column_spec(r: dict) -> Column:
    return Column(r["key"].strip(), r["label"].strip(), r["kind"], r["when_weighted"], split_list(r["aliases"]))


def _row_spec(r: dict) -> FundingRowSpec:
    return FundingRowSpec(r["key"].strip(), r["label"].strip(), r["weight"], split_list(r["parts"]), split_list(r["aliases"]))


def _section_spec(r: dict) -> SectionSpec:
    return SectionSpec(r["key"].strip(), r["title"].strip(), split_list(r["aliases"]))
