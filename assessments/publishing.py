"""政府信息公开 of a published assessment: its 索引号, its metadata block and its versions (issue 16).

The 索引号 is built by a configurable rule (`settings.DISCLOSURE_INDEX_RULE`, by default
地区代码-部门代码-类别-年-流水号) when an assessment is first published and never changes after;
the 流水号 counts per value of the rule's other parts, in one `IndexSerial` row locked for the
increment, so concurrent publications never share a number (and a unique constraint on
`Publication.index_number` would refuse it if they did).

A version is what the public saw: re-publishing other content (after 发起更正) adds the next
version with a correction note computed by `diff.compare` from the two public documents, so it
names public fields only, masked as published. The export job (`exporting.write_files`) is the only
caller that creates versions.
"""

import hashlib
import json
import string
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.db.models import F

from . import diff
from .models import Assessment, IndexSerial, Publication, PublishedVersion, Snapshot, Transition


@dataclass(frozen=True)
class Metadata:
    """The standard block above a public report (索引号, 发布机构, 发布日期, 主题分类, 文号, 公开属性)."""

    identifier: str | None
    publisher: str
    issued: datetime | None  # 发布日期: the first publication
    modified: datetime | None  # this version's publication
    theme: str
    document_number: str
    access: str  # 主动公开 / 依申请公开 / 不予公开
    access_reason: str
    version: int
    snapshot_sha256: str

    def to_json(self) -> dict:
        """DCAT-style names (identifier, publisher, issued, modified, theme) and ours."""
        return {
            "identifier": self.identifier,
            "publisher": self.publisher,
            "issued": self.issued.isoformat() if self.issued else None,
            "modified": self.modified.isoformat() if self.modified else None,
            "theme": self.theme,
            "document_number": self.document_number or None,
            "access_rights": self.access,
            "access_reason": self.access_reason or None,
            "version": self.version,
            "snapshot_sha256": self.snapshot_sha256 or None,
        }

    @property
    def rows(self) -> list[tuple[str, str]]:
        """Label and text of each field, in the order of the block (HTML, PDF, Word)."""
        return [
            ("索引号", self.identifier or ""),
            ("发布机构", self.publisher),
            ("发布日期", _date(self.issued)),
            ("主题分类", self.theme),
            ("文号", self.document_number or "无"),
            ("公开属性", self.access + (f"（{self.access_reason}）" if self.access_reason else "")),
            ("版本", f"第 {self.version} 版" + (f"（{_date(self.modified)}更正）" if self.version > 1 else "")),
        ]


def _date(value) -> str:
    if value is None:
        return ""
    from django.utils import timezone

    return timezone.localtime(value).strftime("%Y年%m月%d日")


def publisher_name(assessment: Assessment) -> str:
    if assessment.publisher == Assessment.Publisher.BUREAU:
        return settings.DISCLOSURE_BUREAU
    return assessment.unit.name


def metadata(assessment: Assessment, publication: Publication | None = None, **override) -> Metadata:
    """The metadata of a published assessment (`publication`: its row, if not the assessment's
    own — fetched with it by `select_related`, else read here)."""
    if publication is None:
        try:
            publication = assessment.publication
        except ObjectDoesNotExist:
            publication = None
    values = {
        "identifier": assessment.index_number,
        "publisher": publisher_name(assessment),
        "issued": assessment.published_at,
        "modified": (publication.version_published_at if publication else None) or assessment.published_at,
        "theme": settings.DISCLOSURE_THEME,
        "document_number": assessment.document_number,
        "access": assessment.get_disclosure_display(),
        "access_reason": assessment.disclosure_reason,
        "version": publication.version if publication else 1,
        "snapshot_sha256": publication.snapshot_sha256 if publication else "",
    }
    values.update(override)
    return Metadata(**values)


def metadata_from_document(doc: dict) -> Metadata:
    """The metadata a stored public document carries (an earlier version's)."""
    return Metadata(
        identifier=doc.get("identifier"),
        publisher=doc.get("publisher") or "",
        issued=_parse(doc.get("issued")),
        modified=_parse(doc.get("modified")),
        theme=doc.get("theme") or "",
        document_number=doc.get("document_number") or "",
        access=doc.get("access_rights") or "",
        access_reason=doc.get("access_reason") or "",
        version=doc.get("version") or 1,
        snapshot_sha256=doc.get("snapshot_sha256") or "",
    )


def _parse(value):
    return datetime.fromisoformat(value) if value else None


# --- What the bureau decides ---------------------------------------------------------------------

# The metadata can be set until publication; a published report changes through 发起更正.
DISCLOSURE_EDITABLE = (Assessment.State.SUBMITTED, Assessment.State.IN_REVIEW, Assessment.State.APPROVED)


class DisclosureRefused(Exception):
    """The metadata cannot be changed now; the message says why, in Chinese."""


def set_disclosure(user, assessment: Assessment, *, publisher: str, document_number: str, disclosure: str,
                   disclosure_reason: str) -> None:
    """Record 发布机构, 文号 and 公开属性 (with its reason) of an assessment for its reviewer."""
    from . import audit, permissions

    if not permissions.can_review(user, assessment):
        raise DisclosureRefused("您无权设置该自评的公开信息。")
    changes = {"publisher": publisher, "document_number": document_number.strip(), "disclosure": disclosure,
               "disclosure_reason": disclosure_reason.strip()}
    with transaction.atomic():
        if not Assessment.objects.filter(pk=assessment.pk, state__in=DISCLOSURE_EDITABLE).update(**changes):
            raise DisclosureRefused("已公开的报告不能再修改公开信息；如需修改，请发起更正。")
        audit.record("disclosure.set", actor=user, unit=assessment.unit_id, obj=assessment, details=changes)
    for name, value in changes.items():
        setattr(assessment, name, value)


# --- 索引号 ----------------------------------------------------------------------------------------


def _parts(assessment: Assessment) -> dict:
    region, unit = assessment.unit.region, assessment.unit
    return {
        "region": region.code or f"{region.pk:06d}",
        "unit": unit.code or f"{unit.pk:03d}",
        "category": settings.DISCLOSURE_CATEGORY,
        "year": assessment.round.year,
    }


def _fields(rule: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(rule) if name]


def index_scope(assessment: Assessment, rule: str | None = None) -> str:
    """What the 流水号 counts within: the values of the rule's parts other than {serial}."""
    rule = rule or settings.DISCLOSURE_INDEX_RULE
    parts = _parts(assessment)
    return "|".join(f"{name}={parts[name]}" for name in _fields(rule) if name != "serial")[:80]


def allocate_index_number(assessment: Assessment, rule: str | None = None) -> str:
    """The next 索引号 under the rule (call inside the transaction that stores it: the scope's
    counter row stays locked until that transaction ends)."""
    rule = rule or settings.DISCLOSURE_INDEX_RULE
    scope = index_scope(assessment, rule)
    IndexSerial.objects.get_or_create(prefix=scope)  # a concurrent creation is caught and re-read
    IndexSerial.objects.filter(prefix=scope).update(last=F("last") + 1)  # the row lock is ours from here
    serial = IndexSerial.objects.filter(prefix=scope).values_list("last", flat=True).get()
    return rule.format(serial=serial, **_parts(assessment))


def assign_index_number(assessment: Assessment) -> str:
    """The assessment's 索引号, given now if it has none (committed at once, before any file is
    written: a number once printed is never given to another report, even if the export fails)."""
    with transaction.atomic():
        current = Assessment.objects.select_for_update().filter(pk=assessment.pk).values_list("index_number", flat=True).get()
        if not current:
            current = allocate_index_number(assessment)
            Assessment.objects.filter(pk=assessment.pk).update(index_number=current)
    assessment.index_number = current
    return current


# --- Versions --------------------------------------------------------------------------------------


def snapshot_hash(assessment: Assessment) -> str:
    """SHA-256 of the submission snapshot that was approved (canonical JSON), "" if none."""
    snapshot = Snapshot.objects.filter(assessment=assessment).order_by("-number").first()
    if snapshot is None:
        return ""
    canonical = json.dumps(snapshot.data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class VersionPlan:
    number: int
    published_at: datetime
    new: bool
    previous: PublishedVersion | None
    reason: str


def plan_version(assessment: Assessment, snapshot_sha256: str, now: datetime) -> VersionPlan:
    """Which version an export of the approved content writes: the latest again when it publishes
    the same snapshot (a re-run, or re-publishing after 撤销公开), else the next one."""
    latest = PublishedVersion.objects.filter(assessment=assessment).order_by("-number").first()
    if latest is not None and latest.snapshot_sha256 == snapshot_sha256:
        return VersionPlan(latest.number, latest.published_at, False, None, latest.correction_reason)
    if latest is None:  # also a report published before versions existed: that was version 1
        return VersionPlan(1, assessment.published_at or now, True, None, "")
    correction = (
        Transition.objects.filter(assessment=assessment, action="correct", at__gte=latest.published_at)
        .order_by("-at", "-id").values_list("comment", flat=True).first()
    )
    return VersionPlan(latest.number + 1, now, True, latest, correction or "")


def correction_note(previous_document: dict, document: dict, table=None) -> list[dict]:
    """The public fields that changed between two published documents (更正说明)."""
    return [
        {"section": c.section, "row": c.row, "field": c.field, "before": c.before, "after": c.after}
        for c in diff.compare(previous_document, document, table)
    ]


def record_version(assessment: Assessment, plan: VersionPlan, document: dict, snapshot_sha256: str,
                   correction: dict | None) -> PublishedVersion:
    """Store the version an export wrote (inside the export's transaction); the one before is
    marked superseded from this version's publication. An export of the version again (the same
    approved snapshot) keeps its number and correction and stores the document its files hold now:
    the permalink shows the version now published from its document (issue 17)."""
    if not plan.new:
        version = PublishedVersion.objects.get(assessment=assessment, number=plan.number)
        if version.document != document:
            version.document = document
            version.save(update_fields=["document"])
        return version
    version, created = PublishedVersion.objects.get_or_create(
        assessment=assessment, number=plan.number,
        defaults={"document": document, "snapshot_sha256": snapshot_sha256, "published_at": plan.published_at,
                  "correction_reason": plan.reason, "correction": (correction or {}).get("changes", [])},
    )
    if created and plan.previous is not None:
        PublishedVersion.objects.filter(pk=plan.previous.pk, superseded_at__isnull=True).update(superseded_at=plan.published_at)
    return version


def public_status(assessment_id: int) -> str:
    """How the public permalink answers an assessment that is not published now: "gone" (410)
    after 撤销公开, "correcting" (the last version, marked) after 发起更正, else "" (404)."""
    last = (
        Transition.objects.filter(assessment_id=assessment_id, action__in=("publish", "unpublish", "correct"))
        .order_by("-at", "-id").values_list("action", flat=True).first()
    )
    return {"unpublish": "gone", "correct": "correcting"}.get(last, "")
