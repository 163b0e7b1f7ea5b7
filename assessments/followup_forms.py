"""Forms of the pages after 复核 (issue 15): the 抽查 draw, its assignments, 结果应用."""

from decimal import Decimal

from django import forms
from django.contrib.auth import get_user_model

from . import sampling, spotchecks
from .fields import RegionMultipleChoiceField
from .models import Advice, Assessment, Region

SELECT = {"class": "form-select form-select-sm"}
INPUT = {"class": "form-control form-control-sm"}


class SpotCheckForm(forms.Form):
    title = forms.CharField(label="名称", max_length=100, widget=forms.TextInput(INPUT))
    kinds = forms.MultipleChoiceField(
        label="类型", required=False, choices=Assessment.Kind.choices, widget=forms.CheckboxSelectMultiple,
        help_text="不选则包括全部类型。",
    )
    regions = RegionMultipleChoiceField(
        label="地区", required=False, queryset=Region.objects.order_by("id"),
        widget=forms.SelectMultiple({**SELECT, "size": 4}), help_text="不选则包括全部地区；选市则包括其下各区县。",
    )
    supervisor = forms.CharField(label="主管部门", required=False, max_length=100, widget=forms.TextInput(INPUT),
                                 help_text="与预算单位的“主管部门”完全相同；留空则不限。")
    amount_min = forms.DecimalField(label="预算金额下限（万元）", required=False, min_value=0, max_digits=18,
                                    decimal_places=4, widget=forms.TextInput(INPUT))
    amount_max = forms.DecimalField(label="预算金额上限（万元）", required=False, min_value=0, max_digits=18,
                                    decimal_places=4, widget=forms.TextInput(INPUT))
    method = forms.ChoiceField(label="抽样方法", choices=list(sampling.METHODS.items()), widget=forms.Select(SELECT))
    count = forms.IntegerField(label="抽取数量（份）", required=False, min_value=1, max_value=100000,
                               widget=forms.TextInput(INPUT))
    percent = forms.DecimalField(label="抽取比例（%）", required=False, min_value=Decimal("0.01"),
                                 max_value=Decimal("100"), max_digits=5, decimal_places=2, widget=forms.TextInput(INPUT))
    seed = forms.IntegerField(label="随机种子", required=False, min_value=0, max_value=spotchecks.MAX_SEED,
                              widget=forms.TextInput(INPUT), help_text="留空则由系统随机生成；种子与总体一并记录，可据此复现抽样结果。")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("count") is None and cleaned.get("percent") is None and not self.has_error("count") \
                and not self.has_error("percent"):
            self.add_error("count", "抽取数量和抽取比例须填写其中一项。")
        elif cleaned.get("count") is not None and cleaned.get("percent") is not None:
            self.add_error("percent", "抽取数量和抽取比例只能填写其中一项。")
        low, high = cleaned.get("amount_min"), cleaned.get("amount_max")
        if low is not None and high is not None and low > high:
            self.add_error("amount_max", "预算金额上限不能小于下限。")
        return cleaned

    def criteria(self) -> spotchecks.Criteria:
        c = self.cleaned_data
        return spotchecks.Criteria(
            kinds=tuple(sorted(c["kinds"])), regions=tuple(sorted(r.pk for r in c["regions"])),
            supervisor=c["supervisor"].strip(), amount_min=c["amount_min"], amount_max=c["amount_max"],
        )


class AssignForm(forms.Form):
    item = forms.IntegerField(min_value=1, max_value=2**63 - 1, widget=forms.HiddenInput)
    reviewer = forms.IntegerField(label="复核人", required=False, min_value=1, max_value=2**63 - 1)
    third_party = forms.CharField(label="委托第三方机构", required=False, max_length=100)

    def reviewer_user(self):
        pk = self.cleaned_data.get("reviewer")
        return get_user_model().objects.filter(pk=pk, is_active=True).first() if pk else None


class ResultForm(forms.Form):
    assessment = forms.IntegerField(min_value=1, max_value=2**63 - 1, widget=forms.HiddenInput)
    advice = forms.ChoiceField(label="确认结果", choices=Advice.choices)
    reduce_percent = forms.DecimalField(label="核减比例（%）", required=False, min_value=Decimal("0.01"),
                                        max_value=Decimal("100"), max_digits=5, decimal_places=2)
    reason = forms.CharField(label="调整理由", required=False, max_length=2000)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("advice") == Advice.REDUCE and cleaned.get("reduce_percent") is None \
                and not self.has_error("reduce_percent"):
            self.add_error("reduce_percent", "选择“核减”须填写核减比例。")
        if cleaned.get("advice") != Advice.REDUCE:
            cleaned["reduce_percent"] = None
        return cleaned


class RectificationForm(forms.Form):
    problem = forms.CharField(label="存在的问题", max_length=5000, widget=forms.Textarea({"rows": 2, "class": "form-control"}))
    indicators = forms.MultipleChoiceField(label="涉及指标", required=False, widget=forms.CheckboxSelectMultiple,
                                           help_text="不选则为整体问题。所选指标在以后年度的同一指标上继续显示。")
    requirement = forms.CharField(label="整改要求", max_length=5000, widget=forms.Textarea({"rows": 2, "class": "form-control"}))
    due_date = forms.DateField(label="整改期限", widget=forms.DateInput({"type": "date", "class": "form-control form-control-sm"}))

    def __init__(self, *args, indicator_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["indicators"].choices = list(indicator_choices)
