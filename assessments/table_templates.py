"""Finding, offering, cloning and versioning 表样 (docs/adr/0010).

- A new assessment takes the latest version of its template; it keeps that version for good.
- A round may assign a template to a kind (for all regions, or for one region and the regions
  under it); without an assignment the officer chooses among the active templates of the kind.
- Built-in templates come from `builtin_templates` and are installed (or given a new version when
  the code's declaration changed) after every `migrate`. They are never edited in the portal:
  bureaus clone them.
"""

from django.db import transaction
from django.db.models import Max

from . import builtin_templates
from .childrows import Statement
from .models import Region, Round, TableTemplate, TemplateAssignment, TemplateVersion
from .tablespec import SpecInvalid, TableSpec


class TemplateRefused(ValueError):
    """A template change that cannot be made; the message says why, in Chinese."""


def builtin_version(code: str) -> TemplateVersion:
    """An unsaved version carrying a built-in template's declaration (for read models built in
    memory, e.g. from demo data, without a database)."""
    spec = builtin_templates.BY_CODE[code]
    template = TableTemplate(code=spec.code, name=spec.name, kind=spec.kind, builtin=True)
    return TemplateVersion(template=template, number=1, spec=spec.to_dict())


def latest_version(code: str) -> TemplateVersion:
    """The newest version of the template with this code."""
    return TemplateVersion.objects.select_related("template").filter(template__code=code).latest("number")


def assigned_template(round_: Round, kind: str, region: Region | None) -> TableTemplate | None:
    """The template the round prescribes for this kind in this region (the nearest region wins)."""
    return _nearest(_assignments(round_, kind), kind, region)


# The 新建 page's reads, by statements compiled once (childrows.Statement).
_ROUND_ASSIGNMENTS = Statement(lambda round_id: TemplateAssignment.objects.filter(round_id=round_id)
                               .select_related("template"), int)
_ACTIVE = Statement(lambda: TableTemplate.objects.filter(active=True).order_by("kind", "id"))


def _assignments(round_: Round, kind: str | None = None) -> dict[tuple[str, int | None], TableTemplate]:
    """The round's templates by kind and region (None: every region), for one kind or all."""
    return {(a.kind, a.region_id): a.template for a in _ROUND_ASSIGNMENTS.all(round_.pk) if not kind or a.kind == kind}


def _nearest(assignments, kind: str, region: Region | None) -> TableTemplate | None:
    node = region
    while node is not None:
        if (kind, node.pk) in assignments:
            return assignments[(kind, node.pk)]
        node = node.parent
    return assignments.get((kind, None))


def offered_templates(round_: Round | None, unit) -> dict[str, list[TableTemplate]]:
    """Per kind, the templates an officer of `unit` may choose in `round_` (both kinds' assignments
    read in one query)."""
    active = _ACTIVE.all()
    assignments = _assignments(round_) if round_ is not None else {}
    offered: dict[str, list[TableTemplate]] = {}
    for kind in ("department", "project"):
        prescribed = _nearest(assignments, kind, unit.region) if assignments else None
        offered[kind] = [prescribed] if prescribed is not None else [t for t in active if t.kind == kind]
    return offered


def version_for_new(template: TableTemplate) -> TemplateVersion:
    version = template.versions.order_by("-number").first()
    if version is None:
        raise TemplateRefused(f"表样“{template.name}”还没有任何版本。")
    return version


@transaction.atomic
def save_version(template: TableTemplate, spec: TableSpec, *, user=None, note: str = "") -> TemplateVersion:
    """A new version of `template` with `spec` (validated); earlier versions stay as they are."""
    if template.builtin:
        raise TemplateRefused("内置表样不可修改，请先复制。")
    spec = spec.evolve(code=template.code, kind=template.kind)
    try:
        spec = TableSpec.from_dict(spec.to_dict())
    except SpecInvalid:
        raise
    locked = TableTemplate.objects.select_for_update().get(pk=template.pk)
    latest = locked.versions.order_by("-number").first()
    if latest is not None and latest.spec == spec.to_dict():
        return latest
    number = (locked.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    if locked.name != spec.name:
        TableTemplate.objects.filter(pk=locked.pk).update(name=spec.name)
        template.name = spec.name
    return TemplateVersion.objects.create(template=locked, number=number, spec=spec.to_dict(), note=note, created_by=user)


@transaction.atomic
def clone(template: TableTemplate, *, code: str, name: str, user=None) -> TableTemplate:
    """A new, editable template starting from the latest version of `template`."""
    if TableTemplate.objects.filter(code=code).exists():
        raise TemplateRefused(f"代码“{code}”已被其他表样使用。")
    source = version_for_new(template).table
    spec = source.evolve(code=code, name=name)
    try:
        spec = TableSpec.from_dict(spec.to_dict())
    except SpecInvalid as exc:
        raise TemplateRefused("；".join(exc.errors)) from exc
    copy = TableTemplate.objects.create(code=code, name=name, kind=template.kind, based_on=template, created_by=user)
    TemplateVersion.objects.create(template=copy, number=1, spec=spec.to_dict(), note=f"复制自“{template.name}”", created_by=user)
    return copy


def install_builtin(**_kwargs) -> int:
    """Install the built-in templates, or a new version of one whose declaration changed in the
    code (post_migrate). Returns the number of versions written."""
    written = 0
    for spec in builtin_templates.BUILTIN:
        template, _ = TableTemplate.objects.get_or_create(
            code=spec.code, defaults={"name": spec.name, "kind": spec.kind, "builtin": True}
        )
        latest = template.versions.order_by("-number").first()
        if latest is not None and latest.spec == spec.to_dict():
            continue
        TemplateVersion.objects.create(
            template=template, number=(latest.number + 1) if latest else 1, spec=spec.to_dict(), note="内置表样"
        )
        if template.name != spec.name:
            TableTemplate.objects.filter(pk=template.pk).update(name=spec.name)
        written += 1
    return written
