"""Entry forms. One `EntryForm` bundles the header and every table of an assessment, so the
view saves them together or not at all, and re-renders everything typed when anything is wrong."""

import unicodedata
from decimal import Decimal

from crispy_forms.helper import FormHelper
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import F

from . import scoring
from .columns import amount_text
from .fields import ChoiceOfModel
from .formlabels import LabelledRowsMixin, label_row
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
from .services import save_draft
from .tablespec import HEADER_FIELDS, TableSpec

# Generous but finite limits: a pasted 10 MB blob gets a field error, not a stored row.
SHORT_TEXT = 2000
LONG_TEXT = 20000
REPORT_TEXT = 50000


class AmountField(forms.DecimalField):
    """An amount in 万元 with at most four decimals (one yuan), kept as typed. Accepts what
    officers paste from Excel: full-width digits, thousands separators, a trailing 万元."""

    default_error_messages = {
        "invalid": "请输入数字金额（单位：万元），例如 36 或 30.64。",
        "min_value": "金额不能为负数。",
        "max_decimal_places": "金额最多保留四位小数（万元，精确到元）。",
        "max_digits": "金额过大，请检查单位是否为万元。",
        "max_whole_digits": "金额过大，请检查单位是否为万元。",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", 18)
        kwargs.setdefault("decimal_places", 4)
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

    def prepare_value(self, value):
        # A stored amount shows as typed ("36.00", "12.345"), not with the column's four places
        # (PostgreSQL returns numeric(18,4) as Decimal("36.0000")).
        if isinstance(value, Decimal) and value.is_finite():
            return amount_text(value)
        return super().prepare_value(value)


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

    def _post_clean(self):
        # A stored row posted back unchanged was validated by the model when it was saved, and it
        # is not written again (EntryForm.write saves the changed rows only): its form fields are
        # still checked, but the model's validation of every field is skipped (a third of the
        # time of saving a 40-row form with one row changed; issue 17, part 5).
        if self.instance.pk is not None and not self.has_changed():
            return
        super()._post_clean()

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


class NumberField(forms.DecimalField):
    """A number in a template's own column (数量, 比例 …): up to four decimals, kept as typed."""

    default_error_messages = {
        "invalid": "请输入数字，例如 12 或 3.5。",
        "max_decimal_places": "最多保留四位小数。",
        "max_digits": "数值过大。",
        "max_whole_digits": "数值过大。",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", 18)
        kwargs.setdefault("decimal_places", 4)
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "class": "form-control form-control-sm text-end"}))
        super().__init__(**kwargs)

    def to_python(self, value):
        if isinstance(value, str):
            value = unicodedata.normalize("NFKC", value).replace(",", "").strip()
        return super().to_python(value)


COUNT_ERRORS = {"invalid": "请输入整数人数。", "min_value": "人数不能为负数。", "max_value": "人数过大。"}

# Form fields for the kinds of value a template's own columns and header fields hold.
FIELD_FACTORIES = {
    "text": lambda label: forms.CharField(label=label, required=False, max_length=SHORT_TEXT, widget=text_area(1)),
    "long_text": lambda label: forms.CharField(label=label, required=False, max_length=LONG_TEXT, widget=text_area(3)),
    "amount": lambda label: AmountField(label=label),
    "number": lambda label: NumberField(label=label),
    "integer": lambda label: forms.IntegerField(
        label=label, required=False, min_value=0, max_value=10**9, error_messages=COUNT_ERRORS,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "class": "form-control form-control-sm"}),
    ),
}


def _stored(value):
    """A custom column's cleaned value as kept in `extra` (JSON): numbers as typed text."""
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


class _ExtraFieldsMixin:
    """Fields for a template's own columns, kept in the instance's `extra` dict."""

    extra_columns: tuple = ()  # (key, label, kind)

    def add_extra_fields(self, extra_columns) -> None:
        self.extra_columns = tuple(extra_columns)
        for key, label, kind in self.extra_columns:
            self.fields[key] = FIELD_FACTORIES[kind](label)
            if isinstance(self.fields[key], forms.CharField):
                self.fields[key].error_messages["max_length"] = TOO_LONG
        for key, value in self.initial_of(self.instance).items():
            self.initial.setdefault(key, value)

    def initial_of(self, instance) -> dict:
        """The initial values of the template's own columns for `instance` (kept in its `extra`)."""
        stored = instance.extra or {}
        return {key: stored[key] for key, _label, _kind in self.extra_columns if stored.get(key) is not None}

    def _post_clean(self):
        super()._post_clean()
        if not self.extra_columns:
            return
        extra = dict(self.instance.extra or {})
        for key, _label, _kind in self.extra_columns:
            value = self.cleaned_data.get(key)
            if value in (None, ""):
                extra.pop(key, None)
            else:
                extra[key] = _stored(value)
        self.instance.extra = extra


HEADER_MODEL_FIELDS = {
    "project_name": ["project_name"],
    "leader_and_phone": ["project_leader", "leader_phone", "leader_phone_is_office"],
    "project_leader": ["project_leader"],
    "leader_phone": ["leader_phone", "leader_phone_is_office"],
    "supervisor_name": ["supervisor_name"],
    "implementer": ["implementer"],
    "duties": ["duties"],
    "staff_quota": ["staff_quota"],
    "staff_actual": ["staff_actual"],
}


class HeaderForm(_ExtraFieldsMixin, PortalModelForm):
    """The header fields the assessment's 表样 declares, labelled as the template labels them."""

    duties = forms.CharField(label="部门职责", required=False, max_length=LONG_TEXT, widget=text_area(8))
    staff_quota = forms.IntegerField(label="人员编制", required=False, min_value=0, max_value=100000, error_messages=COUNT_ERRORS)
    staff_actual = forms.IntegerField(label="实有人数", required=False, min_value=0, max_value=100000, error_messages=COUNT_ERRORS)

    class Meta:
        model = Assessment
        fields = [
            "project_name", "project_leader", "leader_phone", "leader_phone_is_office",
            "supervisor_name", "implementer", "confidential", "duties", "staff_quota", "staff_actual",
        ]

    def __init__(self, *args, table: TableSpec, **kwargs):
        super().__init__(*args, **kwargs)
        keep, labels, required = set(), {}, set()
        for f in table.header:
            names = HEADER_MODEL_FIELDS.get(f.key)
            if names is None:
                continue
            keep.update(names)
            if f.key == "leader_and_phone":
                labels["project_leader"] = "项目负责人"
            else:
                labels[names[0]] = f.label
            if f.required:
                required.add(names[0])
        if table.is_project:
            keep.update({"project_name", "confidential"})
            required.add("project_name")
        for name in list(self.fields):
            if name not in keep:
                del self.fields[name]
        for name, label in labels.items():
            self.fields[name].label = label
        for name in required:
            self.fields[name].required = True
            self.fields[name].error_messages["required"] = f"请填写{self.fields[name].label}。"
        custom = [(f.key, f.label, f.kind) for f in table.header if f.key not in HEADER_FIELDS]
        self.add_extra_fields(custom)
        for key, *_ in custom:
            self.fields[key].required = any(f.required for f in table.header if f.key == key)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True

    def clean_leader_phone(self):
        phone = unicodedata.normalize("NFKC", self.cleaned_data.get("leader_phone", "")).strip()
        if phone and not all(c.isdigit() or c in "-—() " for c in phone):
            raise forms.ValidationError("电话号码只能包含数字、空格、括号和短横线。")
        return phone

    @property
    def saved_fields(self) -> list[str]:
        names = [name for name in self.fields if name in self._meta.fields]
        return names + (["extra"] if self.extra_columns else [])


FUNDING_KEYS = {"initial_budget", "budget", "actual", "rate", "weight", "score", "reason"}


class FundingForm(_ExtraFieldsMixin, PortalModelForm):
    initial_budget = AmountField(label="年初预算数")
    budget = AmountField(label="全年预算数")
    actual = AmountField(label="全年执行数")
    score = ScoreField(label="得分")
    reason = forms.CharField(label="产生差异的原因", required=False, max_length=SHORT_TEXT, widget=text_area(1))

    class Meta:
        model = FundingRow
        fields = ["initial_budget", "budget", "actual", "score", "reason"]

    def __init__(self, *args, table: TableSpec, **kwargs):
        super().__init__(*args, **kwargs)
        row_spec = next((r for r in table.funding_rows if r.key == self.instance.source), None)
        columns = {c.key: c for c in table.funding_columns}
        for name in list(self.fields):
            if name not in columns or (name == "score" and (row_spec is None or row_spec.weight is None)):
                del self.fields[name]
            else:
                self.fields[name].label = columns[name].label
        self.row_label = row_spec.label if row_spec else self.instance.source
        self.add_extra_fields((c.key, c.label, c.kind) for c in table.funding_columns if c.key not in FUNDING_KEYS)

    @property
    def saved_fields(self) -> list[str]:
        names = [name for name in self.fields if name in self._meta.fields]
        return names + (["extra"] if self.extra_columns else [])


class StructureForm(PortalModelForm):
    budget = AmountField(label="预算数")
    actual = AmountField(label="执行数")

    class Meta:
        model = StructureRow
        fields = ["budget", "actual"]

    def __init__(self, *args, table: TableSpec, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["budget"].label, self.fields["actual"].label = table.structure_labels[1:]
        self.row_label = next((r.label for r in table.structure_rows if r.key == self.instance.item), self.instance.item)


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


OPERATOR_ERROR = "指标性质应为 ≥、≤、＝、＞、＜（或“大于等于”等文字），定性指标填“定性”或留空。"
# What an approved (locked) indicator row keeps as approved.
LOCKED_FIELDS = ("level1", "level2", "name", "operator", "target", "unit", "weight")
INDICATOR_MODEL_FIELDS = ("level1", "level2", "name", "operator", "target", "unit", "actual", "weight", "score", "reason")


class IndicatorForm(_ExtraFieldsMixin, PortalModelForm):
    """One 三级 row with the columns of the assessment's 表样 (and 完成情况, a scoring aid)."""

    level1 = forms.ChoiceField(
        label="一级指标", choices=[("", "请选择")],
        error_messages={"required": "请选择一级指标。", "invalid_choice": "一级指标“%(value)s”不是本表样的一级指标。"},
        widget=forms.Select(attrs={"class": "form-select form-select-sm level1"}),
    )
    level2 = forms.CharField(
        label="二级指标", max_length=50, error_messages={"required": "请填写二级指标。"},
        widget=forms.TextInput(attrs={"class": "form-control form-control-sm level2", "autocomplete": "off"}),
    )
    name = forms.CharField(label="三级指标", required=False, max_length=300, widget=text_area(2))
    operator = forms.CharField(
        label="指标性质", required=False, max_length=10,
        widget=forms.TextInput(attrs={"class": "form-control form-control-sm operator", "list": "operator-options"}),
    )
    target = forms.CharField(label="指标值", required=False, max_length=1000, widget=text_area(2))
    unit = forms.CharField(label="度量单位", required=False, max_length=30, widget=text_input())
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
        fields = [*INDICATOR_MODEL_FIELDS, "outcome"]

    def __init__(self, *args, table: TableSpec, **kwargs):
        super().__init__(*args, **kwargs)
        columns = {c.key: c for c in table.indicator_columns}
        for name in INDICATOR_MODEL_FIELDS:
            if name not in columns:
                del self.fields[name]
            else:
                self.fields[name].label = columns[name].label
        self.fields["level1"].choices = [("", "请选择")] + [(name, name) for name in table.level1_names]
        # 二级 suggestions of the row's 一级 (entry.js switches the list when the 一级 changes).
        level1 = self.data.get(self.add_prefix("level1")) if self.is_bound else self.instance.level1
        if level1 in table.level1_names:
            self.fields["level2"].widget.attrs["list"] = f"level2-options-{table.level1_names.index(level1) + 1}"
        self.add_extra_fields((c.key, c.label, c.kind) for c in table.indicator_columns if c.key not in INDICATOR_MODEL_FIELDS)
        self.table = table
        # A row from the approved 绩效目标 (issue 14): its identity, 指标值 and 分值 are what was
        # approved. Disabled fields take the saved value whatever is posted, so a forged POST
        # changes nothing; the 指标值 changes only by a 目标调整 (season.adjust_target).
        self.locked = bool(self.instance.pk and self.instance.approved_target)
        if self.locked:
            for name in LOCKED_FIELDS:
                if name in self.fields:
                    self.fields[name].disabled = True

    @staticmethod
    def row_shape(instance):
        """What `__init__` derives from the row besides its values (`rowforms`): its 一级 (the
        二级 suggestions offered); None for an approved row, whose fields are locked (its own form)."""
        if instance is None:
            return ()
        if instance.pk and instance.approved_target:
            return None
        return (instance.level1,)

    def _post_clean(self):
        super()._post_clean()
        # No 一级 column in the template: every row belongs to its first (only) 一级.
        if "level1" not in self.fields and self.table.level1_names:
            self.instance.level1 = self.table.level1_names[0]

    def clean_operator(self):
        text = (self.cleaned_data.get("operator") or "").strip()
        if text and text not in ("定性", "定量") and scoring.operator_of(text) is None:
            raise ValidationError(OPERATOR_ERROR)
        return text

    @property
    def saved_fields(self) -> list[str]:
        names = [name for name in self.fields if name in self._meta.fields]
        return names + (["extra"] if self.extra_columns else [])

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


class _LoadedRowsMixin(LabelledRowsMixin):
    """Model formsets that clean row ids without queries and save changed rows in bulk; their
    row fields are named for screen readers (formlabels)."""

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

    def clean(self):
        super().clean()
        # Errors of a form ticked 删除 are not looked at: refuse deleting a locked row here.
        for n, form in enumerate(self.forms, start=1):
            if getattr(form, "locked", False) and self._should_delete_form(form):
                raise ValidationError(
                    f"第{n}行「{form.instance.name}」是批复的绩效指标，不能删除；如需改变指标值，请使用“目标调整”并说明理由。"
                )

    def get_queryset(self):
        # Rows prefetched by readmodel.with_content (ordered by position, id): no second query.
        cache = getattr(self.instance, "_prefetched_objects_cache", {})
        rows = cache.get(self.fk.remote_field.get_accessor_name())
        return list(rows) if rows is not None else super().get_queryset()


def _named(formset_class, noun):
    return type(formset_class.__name__, (formset_class,), {"row_noun": noun})


GoalFormSet = forms.inlineformset_factory(
    Assessment, Goal, form=GoalForm, formset=_named(_OrderedFormSet, "目标"), extra=0, can_delete=True, can_order=True
)
ExpenseFormSet = forms.inlineformset_factory(
    Assessment, ProjectExpense, form=ProjectExpenseForm, formset=_named(_OrderedFormSet, "项目"), extra=0,
    can_delete=True, can_order=True,
)
IndicatorFormSet = forms.inlineformset_factory(
    Assessment, Indicator, form=IndicatorForm, formset=_named(_OrderedFormSet, "指标"), extra=0,
    can_delete=True, can_order=True,
)
FundingFormSet = forms.modelformset_factory(FundingRow, form=FundingForm, formset=_RowsFormSet, extra=0)
StructureFormSet = forms.modelformset_factory(StructureRow, form=StructureForm, formset=_RowsFormSet, extra=0)
SectionFormSet = forms.modelformset_factory(ReportSection, form=ReportSectionForm, formset=_named(_RowsFormSet, "章节"),
                                            extra=0)


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


def _template_order(rows, keys, attr):
    """Saved rows in the order the template declares them (rows it does not declare last)."""
    order = {key: n for n, key in enumerate(keys)}
    return sorted(rows, key=lambda r: (order.get(getattr(r, attr), len(order)), r.pk))


def _inline(assessment, formset_class, data, prefix, extra, **form_kwargs):
    formset_class = type(formset_class.__name__, (formset_class,), {"extra": extra})
    return formset_class(data, instance=assessment, prefix=prefix, form_kwargs=form_kwargs)


class EntryForm:
    """The header and all tables of one assessment, bound and validated together; what each part
    holds (columns, rows, labels) is read from the assessment's 表样."""

    def __init__(self, assessment: Assessment, data=None, *, extra_indicators=0, extra_goals=0, extra_expenses=0):
        self.assessment = a = assessment
        self.table = table = assessment.table
        self.header = HeaderForm(data, instance=a, prefix="header", table=table)
        # The rows come from readmodel.with_content's prefetch: forms are matched to posted data by
        # position, so the order (the template's) must not change between GET and POST.
        self.funding = FundingFormSet(
            data, prefix="funding", rows=_template_order(a.funding_rows.all(), table.funding_row_keys, "source"),
            form_kwargs={"table": table},
        )
        self.structure = (
            StructureFormSet(
                data, prefix="structure", form_kwargs={"table": table},
                rows=_template_order(a.structure_rows.all(), [r.key for r in table.structure_rows], "item"),
            )
            if table.structure_rows else None
        )
        self.goals = self._inline(GoalFormSet, data, "goals", extra_goals)
        self.expenses = self._inline(ExpenseFormSet, data, "expenses", extra_expenses) if table.expenses else None
        self.indicators = self.indicator_formset(a, data, extra_indicators)
        self.sections = SectionFormSet(
            data, prefix="sections",
            rows=_template_order(a.report_sections.all(), [t.key for t in table.text_sections], "key"),
        )
        titles = {t.key: t for t in table.text_sections}
        number = 0
        for form in self.sections.forms:
            spec = titles.get(form.instance.key)
            form.standard_title = spec.title if spec else form.instance.key
            label_row(form, None, "", name=form.standard_title)
            form.is_block = spec is not None and spec in table.blocks
            if not form.is_block:
                number += 1
                form.number = number
        for n, form in enumerate(self.goals.forms):
            form.fields["target"].label, form.fields["achieved"].label = table.goal_labels
            label_row(form, n, "目标")

    def _inline(self, formset_class, data, prefix, extra, **form_kwargs):
        return _inline(self.assessment, formset_class, data, prefix, extra, **form_kwargs)

    @staticmethod
    def indicator_formset(assessment: Assessment, data=None, extra=0):
        """The form's indicator rows alone, as the whole form builds them (the edit page renders a
        changed row without building the other tables)."""
        return _inline(assessment, IndicatorFormSet, data, "indicators", extra, table=assessment.table)

    @property
    def layout(self) -> TableSpec:
        return self.table

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
        table = self.table
        tables = [
            (self.funding, _caption(table.funding_caption), lambda f, i: f.row_label),
            (self.structure, _caption(table.structure_caption), lambda f, i: f.row_label),
            (self.goals, table.goal_caption, lambda f, i: f"第{i}条"),
            (self.expenses, "项目支出明细", lambda f, i: f"第{i}行"),
            (self.indicators, _caption(table.indicator_caption), lambda f, i: f"第{i}行"),
            (self.sections, table.report_title or "文字说明", lambda f, i: f.standard_title),
        ]
        for formset, caption, row_name in tables:
            if formset is None:
                continue
            out += [f"{caption}：{e}" for e in formset.non_form_errors()]
            for i, form in enumerate(formset.forms, start=1):
                for name, errors in form.errors.items():
                    label = form.fields[name].label if name in form.fields else ""
                    out += [f"{caption}{row_name(form, i)}「{label}」：{e}" for e in errors]
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

    def save(self, expected_version: int):
        """Save the draft (`services.save_draft`): the fresh read model, scored once."""
        return save_draft(self, expected_version)

    def write(self, expected_version: int) -> None:
        """Write every part, or nothing when someone saved since the form was opened (StaleDraft).
        Call inside a transaction (`services.save_draft`)."""
        a = self.assessment
        claimed = Assessment.objects.filter(pk=a.pk, version=expected_version, state__in=EDITABLE_STATES).update(
            version=F("version") + 1
        )
        if claimed != 1:
            raise StaleDraft
        a.version = expected_version + 1
        header = self.header.save(commit=False)
        header.save(update_fields=[*self.header.saved_fields, "updated_at"])
        self._save_rows(self.funding)
        if self.structure is not None:
            self._save_rows(self.structure)
        self._save_rows(self.sections)
        for formset in (self.goals, self.expenses, self.indicators):
            if formset is not None:
                self._save_ordered(formset)

    @staticmethod
    def _save_rows(formset) -> None:
        """Only the rows whose values changed, in one statement."""
        changed = [form for form in formset.initial_forms if form.has_changed()]
        fields = _changed_fields(changed, _saved_fields(formset))
        if fields:
            formset.model.objects.bulk_update([form.instance for form in changed], fields)

    @staticmethod
    def _save_ordered(formset) -> None:
        """Deleted rows in one statement, new rows in one, changed or moved rows in one."""
        formset.save(commit=False)
        model = formset.model
        deleted = [obj.pk for obj in formset.deleted_objects]
        if deleted:
            model.objects.filter(pk__in=deleted).delete()
        new, changed, moved = [], [], False
        for position, form in enumerate(formset.ordered_forms, start=1):
            obj = form.instance
            if obj.pk is None:
                obj.position = position
                new.append(obj)
            elif form.has_changed() or obj.position != position:
                moved = moved or obj.position != position
                obj.position = position
                changed.append(form)
        if new:
            model.objects.bulk_create(new)
        fields = (["position"] if moved else []) + _changed_fields(changed, _saved_fields(formset))
        if fields:
            model.objects.bulk_update([form.instance for form in changed], fields)


def _saved_fields(formset) -> list[str]:
    """The model fields the formset's forms edit (a row may show fewer: 得分 only where 分值 is)."""
    names: dict[str, None] = {}
    for form in formset.forms:
        for name in getattr(form, "saved_fields", None) or form._meta.fields:
            names[name] = None
    return list(names) or list(formset.form._meta.fields)


def _changed_fields(forms, saved: list[str]) -> list[str]:
    """Of the fields `saved` (`_saved_fields`), those whose value one of these stored rows' forms
    changed: the rows' update writes them and no other. A 40-row update of every field built a
    CASE of 40 branches per field (Django's bulk_update): 44 ms to change one column of 40 rows.
    A value is compared with the row's as loaded (the form's initial value); the 表样's own columns
    are written together (`extra`) when one of them was changed."""
    out: dict[str, None] = {}
    for form in forms:
        instance, initial = form.instance, form.initial
        own = {key for key, _label, _kind in getattr(form, "extra_columns", ())}
        for name in saved:
            if name in out:
                continue
            if name == "extra":
                if own.intersection(form.changed_data):
                    out[name] = None
            elif getattr(instance, instance._meta.get_field(name).attname) != initial.get(name):
                out[name] = None
    return list(out)


def _caption(caption: str) -> str:
    """"资金情况（万元）" -> "资金情况": the table's name in error sentences."""
    return (caption or "").split("（")[0]


class CreateForm(forms.Form):
    unit = ChoiceOfModel(label="预算单位", queryset=Unit.objects.none(), empty_label=None)
    round = ChoiceOfModel(label="评价批次", queryset=Round.objects.filter(is_open=True), empty_label=None,
                                   error_messages={"required": "请选择评价批次。"})
    layout = forms.ChoiceField(label="表样", choices=[], widget=forms.RadioSelect,
                               error_messages={"required": "请选择表样。", "invalid_choice": "所选表样不可用，请重新选择。"})
    project_name = forms.CharField(label="项目名称", required=False, max_length=200,
                                   help_text="项目支出自评必填；部门整体支出无需填写")
    carry_over = forms.BooleanField(
        label="从本单位上一年度的同类自评开始", required=False, initial=True,
        help_text="沿用年度目标、绩效指标（一级/二级/三级、指标值、分值）和报告章节标题；实际完成值、得分和原因留空。"
                  "项目支出按相同项目名称查找。没有以往自评时创建空白表。",
    )

    def __init__(self, *args, units, templates, **kwargs):
        """`templates`: the TableTemplates offered (per round and region: table_templates.offered_templates)."""
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = units
        if len(units) == 1:
            self.fields["unit"].widget = forms.HiddenInput()
            self.fields["unit"].initial = units[0].pk
        self.templates = {t.code: t for t in templates}
        self.fields["layout"].choices = [(t.code, t.name) for t in templates]
        self.helper = FormHelper()
        self.helper.form_tag = False

    def clean(self):
        data = super().clean()
        template = self.templates.get(data.get("layout"))
        data["template"] = template
        unit, round_ = data.get("unit"), data.get("round")
        if template is not None and template.kind == "project":
            name = (data.get("project_name") or "").strip()
            if not name:
                self.add_error("project_name", "项目支出自评须填写项目名称。")
            elif unit and round_ and Assessment.objects.filter(unit=unit, round=round_, kind="project", project_name=name).exists():
                self.add_error("project_name", f"本单位{round_.year}年度已有项目“{name}”的自评。")
            data["project_name"] = name
        elif template is not None and unit and round_:
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


class _ReviewRowsFormSet(LabelledRowsMixin, forms.BaseFormSet):
    row_noun = "指标"


ReviewRowFormSet = forms.formset_factory(ReviewRowForm, formset=_ReviewRowsFormSet, extra=0)


class ReviewDecisionForm(forms.Form):
    comment = forms.CharField(
        label="审核意见", required=False, max_length=LONG_TEXT,
        widget=forms.Textarea(attrs={"rows": 3, "class": "form-control"}),
        help_text="退回修改时必填；各指标的具体意见请写在该行的“复核说明”中。",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["comment"].error_messages["max_length"] = TOO_LONG


class DisclosureForm(forms.ModelForm):
    """The 公开 metadata the bureau decides before publication (issue 16)."""

    class Meta:
        model = Assessment
        fields = ["publisher", "document_number", "disclosure", "disclosure_reason"]
        widgets = {
            "publisher": forms.Select(attrs={"class": "form-select form-select-sm"}),
            "document_number": forms.TextInput(attrs={"class": "form-control form-control-sm", "placeholder": "如 岳财绩〔2024〕12号（可不填）"}),
            "disclosure": forms.Select(attrs={"class": "form-select form-select-sm"}),
            "disclosure_reason": forms.TextInput(attrs={"class": "form-control form-control-sm"}),
        }

    def clean(self):
        data = super().clean()
        reason = (data.get("disclosure_reason") or "").strip()
        if data.get("disclosure") and data["disclosure"] != Assessment.Disclosure.ACTIVE and not reason:
            self.add_error("disclosure_reason", "选择“依申请公开”或“不予公开”时须填写理由（将随公开目录公布）。")
        if data.get("disclosure") == Assessment.Disclosure.ACTIVE:
            reason = ""
        data["disclosure_reason"] = reason
        return data
