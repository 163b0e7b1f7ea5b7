"""Entry forms. One `EntryForm` bundles the header and every table of an assessment, so the
view saves them together or not at all, and re-renders everything typed when anything is wrong."""

import unicodedata
from decimal import Decimal

from crispy_forms.helper import FormHelper
from django import forms
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F

from . import scoring
from .layouts import layout_for
from .models import (
    Assessment,
    FundingRow,
    Goal,
    Indicator,
    ProjectExpense,
    ReportSection,
    Round,
    StructureRow,
    Unit,
)
from .permissions import EDITABLE_STATES
from .services import refresh_scores

# Generous but finite limits: a pasted 10 MB blob gets a field error, not a stored row.
SHORT_TEXT = 2000
LONG_TEXT = 20000
REPORT_TEXT = 50000


class AmountField(forms.DecimalField):
    """An amount in 万元 with at most two decimals. Accepts what officers paste from Excel:
    full-width digits, thousands separators, a trailing 万元."""

    default_error_messages = {
        "invalid": "请输入数字金额（单位：万元），例如 36 或 30.64。",
        "min_value": "金额不能为负数。",
        "max_decimal_places": "金额最多保留两位小数。",
        "max_digits": "金额过大，请检查单位是否为万元。",
        "max_whole_digits": "金额过大，请检查单位是否为万元。",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", 14)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("min_value", Decimal("0"))
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "class": "form-control form-control-sm text-end amount"}))
        super().__init__(**kwargs)

    def to_python(self, value):
        if isinstance(value, str):
            value = unicodedata.normalize("NFKC", value).replace(",", "").replace(" ", "").strip()
            for suffix in ("万元", "万"):
                if value.endswith(suffix):
                    value = value[: -len(suffix)]
            if value in {"—", "-", "－", "/"}:
                value = ""
        value = super().to_python(value)
        # "NaN", "sNaN", "Infinity" parse as Decimals; comparing a signalling NaN raises
        # InvalidOperation (has_changed, min_value), so they are refused here (issue 12).
        if value is not None and not value.is_finite():
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return value


class ScoreField(forms.DecimalField):
    default_error_messages = {
        "invalid": "请输入数字，例如 5 或 4.84。",
        "min_value": "不能为负数。",
        "max_value": "不能超过 100。",
        "max_decimal_places": "最多保留两位小数。",
        "max_digits": "数值过大。",
        "max_whole_digits": "数值过大。",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", 5)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("min_value", Decimal("0"))
        kwargs.setdefault("max_value", Decimal("100"))
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "class": "form-control form-control-sm text-end"}))
        super().__init__(**kwargs)

    def to_python(self, value):
        if isinstance(value, str):
            value = unicodedata.normalize("NFKC", value).strip()
        return super().to_python(value)


TOO_LONG = "内容过长：最多 %(limit_value)d 字，当前 %(show_value)d 字。"


class PortalModelForm(forms.ModelForm):
    """Model form with the portal's own wording for over-long text."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, forms.CharField) and field.max_length:
                field.error_messages["max_length"] = TOO_LONG

    def has_changed(self):
        # A blank row whose only change is its position (set by the reorder script) or a
        # tick in 删除 is still blank: do not validate or save it.
        return any(name not in ("ORDER", "DELETE") for name in self.changed_data)

    def _get_validation_exclusions(self):
        # Amount and score fields are checked completely by their form fields (digits, decimals,
        # >= 0). Left to the model as well, every non-negative CheckConstraint would be evaluated
        # in SQL for every row: one query per row and constraint on each save. The database
        # still enforces the constraints.
        exclude = super()._get_validation_exclusions()
        exclude.update(name for name, field in self.fields.items() if isinstance(field, (AmountField, ScoreField)))
        return exclude


def text_area(rows=2, css="form-control form-control-sm"):
    return forms.Textarea(attrs={"rows": rows, "class": css})


def text_input(css="form-control form-control-sm"):
    return forms.TextInput(attrs={"class": css})


class HeaderForm(PortalModelForm):
    PROJECT_FIELDS = ["project_name", "project_leader", "leader_phone", "leader_phone_is_office", "supervisor_name", "implementer", "confidential"]
    DEPARTMENT_FIELDS = ["duties", "staff_quota", "staff_actual"]

    duties = forms.CharField(label="部门职责", required=False, max_length=LONG_TEXT, widget=text_area(8))
    staff_quota = forms.IntegerField(
        label="人员编制", required=False, min_value=0, max_value=100000,
        error_messages={"invalid": "请输入整数人数。", "min_value": "人数不能为负数。", "max_value": "人数过大。"},
    )
    staff_actual = forms.IntegerField(
        label="实有人数", required=False, min_value=0, max_value=100000,
        error_messages={"invalid": "请输入整数人数。", "min_value": "人数不能为负数。", "max_value": "人数过大。"},
    )

    class Meta:
        model = Assessment
        fields = [
            "project_name", "project_leader", "leader_phone", "leader_phone_is_office",
            "supervisor_name", "implementer", "confidential", "duties", "staff_quota", "staff_actual",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        keep = self.PROJECT_FIELDS if self.instance.is_project else self.DEPARTMENT_FIELDS
        for name in list(self.fields):
            if name not in keep:
                del self.fields[name]
        if "project_name" in self.fields:
            self.fields["project_name"].required = True
            self.fields["project_name"].error_messages["required"] = "请填写项目名称。"
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True

    def clean_leader_phone(self):
        phone = unicodedata.normalize("NFKC", self.cleaned_data.get("leader_phone", "")).strip()
        if phone and not all(c.isdigit() or c in "-—() " for c in phone):
            raise forms.ValidationError("电话号码只能包含数字、空格、括号和短横线。")
        return phone


class FundingForm(PortalModelForm):
    initial_budget = AmountField(label="年初预算数")
    budget = AmountField(label="全年预算数")
    actual = AmountField(label="全年执行数")
    reason = forms.CharField(label="产生差异的原因", required=False, max_length=SHORT_TEXT, widget=text_area(1))

    class Meta:
        model = FundingRow
        fields = ["initial_budget", "budget", "actual", "reason"]

    def __init__(self, *args, layout, **kwargs):
        super().__init__(*args, **kwargs)
        for name in list(self.fields):
            if name not in layout.columns:
                del self.fields[name]
            else:
                self.fields[name].label = layout.column_labels[name]
        self.row_label = layout.source_labels.get(self.instance.source, "")


class StructureForm(PortalModelForm):
    budget = AmountField(label="预算数")
    actual = AmountField(label="执行数")

    class Meta:
        model = StructureRow
        fields = ["budget", "actual"]


class GoalForm(PortalModelForm):
    target = forms.CharField(label="年度目标", required=False, max_length=LONG_TEXT, widget=text_area(4))
    achieved = forms.CharField(label="全年完成情况", required=False, max_length=LONG_TEXT, widget=text_area(4))

    class Meta:
        model = Goal
        fields = ["target", "achieved"]


class ProjectExpenseForm(PortalModelForm):
    name = forms.CharField(label="项目名称", max_length=200, widget=text_input(),
                           error_messages={"required": "请填写项目名称。"})
    budget = AmountField(label="年初预算")
    actual = AmountField(label="实际支出")
    note = forms.CharField(label="说明", required=False, max_length=LONG_TEXT, widget=text_area(1))

    class Meta:
        model = ProjectExpense
        fields = ["name", "budget", "actual", "note", "confidential"]


def level2_choices():
    groups = [("", "请选择")]
    for level1, level2s in scoring.TAXONOMY.items():
        groups.append((level1, [(name, name) for name in level2s]))
    return groups


class IndicatorForm(PortalModelForm):
    level1 = forms.ChoiceField(
        label="一级指标", choices=[("", "请选择")] + Indicator.LEVEL1_CHOICES,
        error_messages={"required": "请选择一级指标。", "invalid_choice": "一级指标不在可选范围内。"},
        widget=forms.Select(attrs={"class": "form-select form-select-sm level1"}),
    )
    level2 = forms.ChoiceField(
        label="二级指标", choices=level2_choices(),
        error_messages={"required": "请选择二级指标。", "invalid_choice": "二级指标不在可选范围内。"},
        widget=forms.Select(attrs={"class": "form-select form-select-sm level2"}),
    )
    name = forms.CharField(label="三级指标", required=False, max_length=300, widget=text_area(2))
    target = forms.CharField(label="指标值", required=False, max_length=1000, widget=text_area(2))
    actual = forms.CharField(label="实际完成值", required=False, max_length=2000, widget=text_area(2))
    weight = ScoreField(label="分值")
    outcome = forms.ChoiceField(
        label="完成情况", required=False, choices=[("", "（自动）")] + Indicator.OUTCOME_CHOICES,
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )
    score = ScoreField(label="得分")
    reason = forms.CharField(label="偏差原因", required=False, max_length=SHORT_TEXT, widget=text_area(2))

    class Meta:
        model = Indicator
        fields = ["level1", "level2", "name", "target", "actual", "weight", "outcome", "score", "reason"]

    def clean(self):
        data = super().clean()
        level1, level2 = data.get("level1"), data.get("level2")
        if level1 and level2 and level2 not in scoring.TAXONOMY.get(level1, ()):
            self.add_error("level2", f"二级指标“{level2}”不属于一级指标“{level1}”。")
        return data


class ReportSectionForm(PortalModelForm):
    title = forms.CharField(label="标题", required=False, max_length=100, widget=text_input())
    body = forms.CharField(label="内容", required=False, max_length=REPORT_TEXT, widget=text_area(6, "form-control"))

    class Meta:
        model = ReportSection
        fields = ["title", "body"]


ROW_GONE = "该行已不存在或不属于本自评（可能已在别处删除），请刷新页面后重新填写。"


class LoadedRowField(forms.ModelChoiceField):
    """The hidden id of an existing row, looked up among the rows the formset already loaded.

    Django's own id field runs one ``queryset.get(pk=…)`` per row while cleaning. Looking the id
    up in the formset's rows costs nothing and refuses an id of another assessment's row.
    """

    def __init__(self, formset, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.formset = formset

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            row = self.formset._existing_object(int(value))
        except (TypeError, ValueError):
            row = None
        if row is None:
            raise ValidationError(ROW_GONE, code="invalid_choice")
        return row


class _LoadedRowsMixin:
    """Model formsets that clean row ids without queries and save changed rows in bulk."""

    def add_fields(self, form, index):
        super().add_fields(form, index)
        name = self._pk_field.name
        field = form.fields.get(name)
        if type(field) is forms.ModelChoiceField:
            form.fields[name] = LoadedRowField(
                self, field.queryset, initial=field.initial, required=False, widget=field.widget
            )


class _RowsFormSet(_LoadedRowsMixin, forms.BaseModelFormSet):
    """Fixed rows (funding sources, structure items, report sections), given as loaded lists."""

    def __init__(self, *args, rows=None, **kwargs):
        self._rows = rows
        super().__init__(*args, **kwargs)

    def get_queryset(self):
        return self._rows if self._rows is not None else super().get_queryset()

    def save(self, commit=True):
        # Only the rows whose values changed, in one statement.
        changed = [form.instance for form in self.initial_forms if form.has_changed()]
        if changed:
            fields = [name for name in self.form._meta.fields]
            self.model.objects.bulk_update(changed, fields)
        return changed


class _OrderedFormSet(_LoadedRowsMixin, forms.BaseInlineFormSet):
    ordering_widget = forms.NumberInput(attrs={"class": "form-control form-control-sm order-input", "min": 1})

    def get_queryset(self):
        # Rows prefetched by readmodel.with_content (ordered by position, id): no second query.
        cache = getattr(self.instance, "_prefetched_objects_cache", {})
        rows = cache.get(self.fk.remote_field.get_accessor_name())
        return list(rows) if rows is not None else super().get_queryset()


GoalFormSet = forms.inlineformset_factory(
    Assessment, Goal, form=GoalForm, formset=_OrderedFormSet, extra=0, can_delete=True, can_order=True
)
ExpenseFormSet = forms.inlineformset_factory(
    Assessment, ProjectExpense, form=ProjectExpenseForm, formset=_OrderedFormSet, extra=0, can_delete=True, can_order=True
)
IndicatorFormSet = forms.inlineformset_factory(
    Assessment, Indicator, form=IndicatorForm, formset=_OrderedFormSet, extra=0, can_delete=True, can_order=True
)
FundingFormSet = forms.modelformset_factory(FundingRow, form=FundingForm, formset=_RowsFormSet, extra=0)
StructureFormSet = forms.modelformset_factory(StructureRow, form=StructureForm, formset=_RowsFormSet, extra=0)
SectionFormSet = forms.modelformset_factory(ReportSection, form=ReportSectionForm, formset=_RowsFormSet, extra=0)


def live_forms(formset):
    """Forms of a bound formset that will be kept, in their chosen order, valid or not."""
    kept = []
    for n, form in enumerate(formset.forms):
        data = getattr(form, "cleaned_data", {})
        if data.get("DELETE") or (n >= formset.initial_form_count() and not form.has_changed()):
            continue
        order = data.get("ORDER")
        kept.append((order if order is not None else 10**6, n, form))
    return [form for _, _, form in sorted(kept, key=lambda t: (t[0], t[1]))]


class StaleDraft(Exception):
    """Someone saved (or submitted) the assessment after this form was opened."""


class EntryForm:
    """The header and all tables of one assessment, bound and validated together."""

    def __init__(self, assessment: Assessment, data=None, *, extra_indicators=0, extra_goals=0, extra_expenses=0):
        self.assessment = assessment
        self.layout = layout_for(assessment.layout)
        a = assessment
        self.header = HeaderForm(data, instance=a, prefix="header")
        # The rows come from readmodel.with_content's prefetch (each ordered by id): forms are
        # matched to posted data by position, so the order must not change between GET and POST.
        self.funding = FundingFormSet(
            data, prefix="funding", rows=sorted(a.funding_rows.all(), key=lambda f: f.pk),
            form_kwargs={"layout": self.layout},
        )
        self.structure = (
            StructureFormSet(data, prefix="structure", rows=sorted(a.structure_rows.all(), key=lambda r: r.pk))
            if self.layout.has_structure else None
        )
        self.goals = self._inline(GoalFormSet, data, "goals", extra_goals)
        self.expenses = (
            self._inline(ExpenseFormSet, data, "expenses", extra_expenses) if not a.is_project else None
        )
        self.indicators = self._inline(IndicatorFormSet, data, "indicators", extra_indicators)
        self.sections = SectionFormSet(data, prefix="sections", rows=sorted(a.report_sections.all(), key=lambda r: r.pk))
        for form in self.goals.forms:
            form.fields["target"].label, form.fields["achieved"].label = self.layout.goal_labels

    def _inline(self, formset_class, data, prefix, extra):
        formset_class = type(formset_class.__name__, (formset_class,), {"extra": extra})
        return formset_class(data, instance=self.assessment, prefix=prefix)

    @property
    def parts(self):
        return [p for p in (self.header, self.funding, self.structure, self.goals, self.expenses, self.indicators, self.sections) if p is not None]

    def is_valid(self) -> bool:
        # Validate every part (no short-circuit) so all errors show at once.
        return all([part.is_valid() for part in self.parts])

    def error_list(self) -> list[str]:
        """Every field error as one sentence naming its table, row and field."""
        out = []
        for name, errors in self.header.errors.items():
            label = self.header.fields[name].label if name in self.header.fields else "表头"
            out += [f"{label}：{e}" for e in errors]
        tables = [
            (self.funding, "资金情况", lambda f, i: f.row_label),
            (self.structure, "资金结构", lambda f, i: f.instance.get_item_display()),
            (self.goals, "年度总体目标", lambda f, i: f"第{i}条"),
            (self.expenses, "项目支出明细", lambda f, i: f"第{i}行"),
            (self.indicators, "绩效指标", lambda f, i: f"第{i}行"),
            (self.sections, "自评报告", lambda f, i: f.instance.display_title),
        ]
        for formset, table, row_name in tables:
            if formset is None:
                continue
            out += [f"{table}：{e}" for e in formset.non_form_errors()]
            for i, form in enumerate(formset.forms, start=1):
                for name, errors in form.errors.items():
                    label = form.fields[name].label if name in form.fields else ""
                    out += [f"{table}{row_name(form, i)}「{label}」：{e}" for e in errors]
        return out

    def as_post_data(self) -> dict:
        """The current values as a browser would post them (tests and the benchmark replay it)."""
        data = {"version": str(self.assessment.version), "action": "save"}
        for part in self.parts:
            forms = getattr(part, "forms", None)
            if forms is None:
                forms = [part]
            else:
                for name in part.management_form.fields:
                    value = part.management_form[name].value()
                    data[f"{part.prefix}-{name}"] = "" if value is None else str(value)
            for form in forms:
                for name in form.fields:
                    value = form[name].value()
                    if isinstance(value, bool):
                        if value:
                            data[form.add_prefix(name)] = "on"
                    elif value is not None:
                        data[form.add_prefix(name)] = str(value)
        return data

    def preview_rows(self):
        """Unsaved funding rows and indicator rows as typed, for live scoring. Call after is_valid()."""
        funding = [form.instance for form in self.funding.forms]
        return funding, [form.instance for form in live_forms(self.indicators)]

    @transaction.atomic
    def save(self, expected_version: int) -> None:
        a = self.assessment
        claimed = Assessment.objects.filter(pk=a.pk, version=expected_version, state__in=EDITABLE_STATES).update(
            version=F("version") + 1
        )
        if claimed != 1:
            raise StaleDraft
        a.version = expected_version + 1
        header = self.header.save(commit=False)
        header.save(update_fields=[*self.header.fields, "updated_at"])
        self.funding.save()
        if self.structure is not None:
            self.structure.save()
        self.sections.save()
        for formset in (self.goals, self.expenses, self.indicators):
            if formset is not None:
                self._save_ordered(formset)
        refresh_scores(a)

    @staticmethod
    def _save_ordered(formset) -> None:
        """Deleted rows in one statement, new rows in one, changed or moved rows in one."""
        formset.save(commit=False)
        model = formset.model
        deleted = [obj.pk for obj in formset.deleted_objects]
        if deleted:
            model.objects.filter(pk__in=deleted).delete()
        new, changed = [], []
        for position, form in enumerate(formset.ordered_forms, start=1):
            obj = form.instance
            if obj.pk is None:
                obj.position = position
                new.append(obj)
            elif form.has_changed() or obj.position != position:
                obj.position = position
                changed.append(obj)
        if new:
            model.objects.bulk_create(new)
        if changed:
            model.objects.bulk_update(changed, ["position", *formset.form._meta.fields])


class CreateForm(forms.Form):
    TYPE_CHOICES = [
        ("department", "部门整体支出绩效自评表"),
        ("project", "项目支出绩效自评表（年初预算 / 实际投入，如南岳表样）"),
        ("national", "项目支出绩效自评表（财预〔2020〕10号 全国模板）"),
    ]
    unit = forms.ModelChoiceField(label="预算单位", queryset=Unit.objects.none(), empty_label=None)
    round = forms.ModelChoiceField(label="评价批次", queryset=Round.objects.filter(is_open=True), empty_label=None,
                                   error_messages={"required": "请选择评价批次。"})
    layout = forms.ChoiceField(label="表样", choices=TYPE_CHOICES, widget=forms.RadioSelect)
    project_name = forms.CharField(label="项目名称", required=False, max_length=200,
                                   help_text="项目支出自评必填；部门整体支出无需填写")
    carry_over = forms.BooleanField(
        label="从本单位上一年度的同类自评开始", required=False, initial=True,
        help_text="沿用年度目标、绩效指标（一级/二级/三级、指标值、分值）和报告章节标题；实际完成值、得分和原因留空。"
                  "项目支出按相同项目名称查找。没有以往自评时创建空白表。",
    )

    def __init__(self, *args, units, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = units
        if len(units) == 1:
            self.fields["unit"].widget = forms.HiddenInput()
            self.fields["unit"].initial = units[0].pk
        self.helper = FormHelper()
        self.helper.form_tag = False

    def clean(self):
        data = super().clean()
        layout = data.get("layout")
        unit, round_ = data.get("unit"), data.get("round")
        if layout in ("project", "national"):
            name = (data.get("project_name") or "").strip()
            if not name:
                self.add_error("project_name", "项目支出自评须填写项目名称。")
            elif unit and round_ and Assessment.objects.filter(unit=unit, round=round_, kind="project", project_name=name).exists():
                self.add_error("project_name", f"本单位{round_.year}年度已有项目“{name}”的自评。")
            data["project_name"] = name
        elif layout == "department" and unit and round_:
            if Assessment.objects.filter(unit=unit, round=round_, kind="department").exists():
                self.add_error("layout", f"本单位{round_.year}年度的部门整体支出绩效自评已存在。")
        return data


class ReviewRowForm(forms.Form):
    """复核 of one indicator; the key ties it to the indicator across resubmissions."""

    key = forms.CharField(widget=forms.HiddenInput)
    actual = forms.CharField(label="复核完成值", required=False, max_length=2000, widget=text_area(1))
    outcome = forms.ChoiceField(
        label="复核完成情况", required=False, choices=[("", "（同自评）")] + Indicator.OUTCOME_CHOICES,
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )
    score = ScoreField(label="复核得分")
    note = forms.CharField(label="复核说明", required=False, max_length=SHORT_TEXT, widget=text_area(1))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["actual"].error_messages["max_length"] = TOO_LONG
        self.fields["note"].error_messages["max_length"] = TOO_LONG

    def to_input(self) -> scoring.ReviewInput:
        data = self.cleaned_data
        return scoring.ReviewInput(
            actual=data.get("actual", ""), outcome=data.get("outcome") or None, score=data.get("score"), note=data.get("note", "")
        )


ReviewRowFormSet = forms.formset_factory(ReviewRowForm, extra=0)


class ReviewDecisionForm(forms.Form):
    comment = forms.CharField(
        label="审核意见", required=False, max_length=LONG_TEXT,
        widget=forms.Textarea(attrs={"rows": 3, "class": "form-control"}),
        help_text="退回修改时必填；各指标的具体意见请写在该行的“复核说明”中。",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["comment"].error_messages["max_length"] = TOO_LONG
