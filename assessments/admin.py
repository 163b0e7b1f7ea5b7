from django import forms
from django.contrib import admin

from . import roles
from .models import (
    ApplicationRule,
    Assessment,
    FundingRow,
    Goal,
    Indicator,
    Membership,
    ProjectExpense,
    Region,
    ReportSection,
    Review,
    ReviewerAssignment,
    Round,
    ScoringRuleSet,
    Snapshot,
    StructureRow,
    TableTemplate,
    TemplateAssignment,
    TemplateVersion,
    Transition,
    Unit,
)
from .security.admin import AuditedDeletionsMixin  # also registers the User and AuditEvent admins


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["name", "level", "parent"]
    list_filter = ["level"]
    search_fields = ["name"]


class SeparatedRoleForm(forms.ModelForm):
    """Refuses to make an administrator an officer or a reviewer (issue 18, 三员分立); the same
    rule is enforced on every save (security.signals), this gives the admin its message."""

    person_field = ""
    proposed = {}

    def clean(self):
        cleaned = super().clean()
        person = cleaned.get(self.person_field)
        if person is not None:
            try:
                roles.check(person, **self.proposed)
            except roles.RoleConflict as exc:
                self.add_error(self.person_field, exc)
        return cleaned


class MembershipForm(SeparatedRoleForm):
    person_field, proposed = "user", {"officer": True}


class ReviewerAssignmentForm(SeparatedRoleForm):
    person_field, proposed = "reviewer", {"assigned": True}


class MembershipInline(admin.TabularInline):
    model = Membership
    form = MembershipForm
    extra = 1
    autocomplete_fields = ["user"]


class ReviewerAssignmentInline(admin.TabularInline):
    model = ReviewerAssignment
    form = ReviewerAssignmentForm
    extra = 1
    autocomplete_fields = ["reviewer"]
    verbose_name = verbose_name_plural = "审核人（财政局）"


@admin.register(Unit)
class UnitAdmin(AuditedDeletionsMixin, admin.ModelAdmin):
    list_display = ["name", "short_name", "region", "supervisor"]
    list_filter = ["region"]
    search_fields = ["name", "short_name"]
    inlines = [MembershipInline, ReviewerAssignmentInline]


@admin.register(ReviewerAssignment)
class ReviewerAssignmentAdmin(AuditedDeletionsMixin, admin.ModelAdmin):
    """An admin assigns units to reviewers; reviewers with 可审核全部单位 need no assignment."""

    form = ReviewerAssignmentForm
    list_display = ["reviewer", "unit"]
    list_filter = ["unit"]
    search_fields = ["reviewer__username", "unit__name"]
    autocomplete_fields = ["reviewer", "unit"]


@admin.register(Membership)
class MembershipAdmin(AuditedDeletionsMixin, admin.ModelAdmin):
    form = MembershipForm
    list_display = ["user", "unit", "role", "phone"]
    list_filter = ["role", "unit"]
    search_fields = ["user__username", "unit__name"]
    autocomplete_fields = ["user", "unit"]


@admin.register(ScoringRuleSet)
class ScoringRuleSetAdmin(admin.ModelAdmin):
    list_display = ["name", "over_achievement_ratio", "low_rate_threshold", "grade_excellent", "grade_good", "grade_fair"]


class TemplateAssignmentInline(admin.TabularInline):
    model = TemplateAssignment
    extra = 0
    fields = ["kind", "region", "template"]
    autocomplete_fields = ["region"]


class ApplicationRuleInline(admin.TabularInline):
    """结果应用规则 of the round (issue 15): without rows the defaults of `results.DEFAULT_RULES` apply."""

    model = ApplicationRule
    extra = 0
    fields = ["position", "grade", "score_min", "score_max", "advice", "reduce_percent"]


@admin.register(Round)
class RoundAdmin(admin.ModelAdmin):
    list_display = ["title", "year", "deadline", "is_open", "rule_set"]
    list_editable = ["is_open"]
    inlines = [TemplateAssignmentInline, ApplicationRuleInline]


class TemplateVersionInline(ReadOnlyInline):
    model = TemplateVersion
    fields = ["number", "note", "created_by", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(TableTemplate)
class TableTemplateAdmin(admin.ModelAdmin):
    """Templates are edited on their own pages (表样管理); the admin lists them and switches them on or off."""

    list_display = ["name", "code", "kind", "builtin", "active"]
    list_filter = ["kind", "builtin", "active"]
    list_editable = ["active"]
    fields = ["name", "code", "kind", "builtin", "active", "based_on"]
    readonly_fields = ["name", "code", "kind", "builtin", "based_on"]
    inlines = [TemplateVersionInline]

    def has_add_permission(self, request):
        return False


class FundingInline(ReadOnlyInline):
    model = FundingRow
    fields = ["source", "initial_budget", "budget", "actual", "reason"]


class StructureInline(ReadOnlyInline):
    model = StructureRow
    fields = ["item", "budget", "actual"]


class GoalInline(ReadOnlyInline):
    model = Goal
    fields = ["position", "target", "achieved"]


class ExpenseInline(ReadOnlyInline):
    model = ProjectExpense
    fields = ["position", "name", "budget", "actual", "confidential"]


class IndicatorInline(ReadOnlyInline):
    model = Indicator
    fields = ["position", "level1", "level2", "name", "target", "actual", "weight", "outcome", "score"]


class SectionInline(ReadOnlyInline):
    model = ReportSection
    fields = ["key", "title", "body"]


class TransitionInline(ReadOnlyInline):
    model = Transition
    fields = ["at", "action", "from_state", "to_state", "actor", "comment"]
    readonly_fields = ["at"]


@admin.register(Assessment)
class AssessmentAdmin(admin.ModelAdmin):
    """Read-only in the admin: content changes go through the entry pages and the workflow."""

    list_display = ["__str__", "unit", "round", "kind", "state", "self_total", "self_grade", "updated_at"]
    list_filter = ["round", "kind", "state", "unit"]
    search_fields = ["project_name", "unit__name"]
    list_select_related = ["unit", "round"]
    inlines = [FundingInline, StructureInline, GoalInline, ExpenseInline, IndicatorInline, SectionInline, TransitionInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written only by the workflow: viewable, never changed through the admin."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Snapshot)
class SnapshotAdmin(ReadOnlyAdmin):
    list_display = ["assessment", "number", "created_at"]
    list_select_related = ["assessment__round"]


@admin.register(Review)
class ReviewAdmin(ReadOnlyAdmin):
    list_display = ["assessment", "number", "reviewer", "decision", "review_total", "decided_at"]
    list_filter = ["decision"]
    list_select_related = ["assessment__round", "reviewer"]
