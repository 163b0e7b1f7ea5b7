from django import forms
from django.contrib import admin

from . import people, roles
from .models import (
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


class LabelledListEditableMixin:
    """The checkboxes and inputs of `list_editable` named for screen readers: "<row> <field>"."""

    def get_changelist_form(self, request, **kwargs):
        base = super().get_changelist_form(request, **kwargs)

        class LabelledForm(base):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                for field in self.fields.values():
                    if not field.widget.is_hidden:
                        field.widget.attrs["aria-label"] = f"{self.instance} {field.label}"

        return LabelledForm


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
    list_display = ["person", "unit"]
    list_filter = ["unit"]
    search_fields = ["reviewer__username", "unit__name"]
    autocomplete_fields = ["reviewer", "unit"]
    list_select_related = ["reviewer", "unit"]

    @admin.display(description="审核人", ordering="reviewer__username")
    def person(self, assignment):
        return people.text(assignment.reviewer)


@admin.register(Membership)
class MembershipAdmin(AuditedDeletionsMixin, admin.ModelAdmin):
    form = MembershipForm
    list_display = ["person", "unit", "role", "phone"]
    list_filter = ["role", "unit"]
    search_fields = ["user__username", "unit__name"]
    autocomplete_fields = ["user", "unit"]
    list_select_related = ["user", "unit"]

    @admin.display(description="用户", ordering="user__username")
    def person(self, membership):
        return people.text(membership.user)


@admin.register(ScoringRuleSet)
class ScoringRuleSetAdmin(admin.ModelAdmin):
    list_display = ["name", "over_achievement_ratio", "low_rate_threshold", "grade_excellent", "grade_good", "grade_fair"]


class TemplateAssignmentInline(admin.TabularInline):
    model = TemplateAssignment
    extra = 0
    fields = ["kind", "region", "template"]
    autocomplete_fields = ["region"]


@admin.register(Round)
class RoundAdmin(LabelledListEditableMixin, admin.ModelAdmin):
    list_display = ["title", "year", "deadline", "is_open", "rule_set"]
    list_editable = ["is_open"]
    inlines = [TemplateAssignmentInline]


class TemplateVersionInline(ReadOnlyInline):
    model = TemplateVersion
    fields = ["number", "note", "author", "created_at"]
    readonly_fields = ["author", "created_at"]

    @admin.display(description="创建人")
    def author(self, version):
        return people.text(version.created_by) if version.created_by_id else "—"


@admin.register(TableTemplate)
class TableTemplateAdmin(LabelledListEditableMixin, admin.ModelAdmin):
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
    fields = ["at", "action", "from_state", "to_state", "person", "comment"]
    readonly_fields = ["at", "person"]

    @admin.display(description="操作人")
    def person(self, transition):
        return people.text(transition.actor) if transition.actor_id else people.SYSTEM


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
    list_display = ["assessment", "number", "person", "decision", "review_total", "decided_at"]
    list_filter = ["decision"]
    list_select_related = ["assessment__round", "reviewer"]

    @admin.display(description="审核人", ordering="reviewer__username")
    def person(self, review):
        return people.text(review.reviewer) if review.reviewer_id else "—"
