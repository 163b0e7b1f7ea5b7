"""The ZIP of every published report of a round, for reviewers."""

import re
import tempfile
import unicodedata
import zipfile

from django.utils import timezone

from portal import storage

from .models import Assessment, BulkExport

# Characters that separate paths somewhere: / and \, their full-width and mathematical look-alikes
# (Windows' "best fit" code-page conversion turns ／ and ＼ into / and \), and the characters Windows
# forbids in a file name.
_UNSAFE = set("/\\／＼∕⁄⧸⧹﹨:*?\"<>|")
_DOTS = re.compile(r"\.{2,}")
_RUNS = re.compile(r"_{2,}")
MAX_COMPONENT = 60
UNNAMED = "未命名"


def safe_component(text: str) -> str:
    """`text` as one path component: no separator, no control character, no "..", at most 60 characters.

    zipfile normalises an entry name (``a/../../b`` becomes ``../b``), so a name built from user text
    could leave the folder it is unzipped into; a single sanitised component never can.
    """
    chars = ["_" if c in _UNSAFE or unicodedata.category(c).startswith("C") else c for c in text]
    cleaned = _RUNS.sub("_", _DOTS.sub("_", "".join(chars))).strip("._ ")
    cleaned = cleaned[:MAX_COMPONENT].rstrip("._ ")
    return cleaned or UNNAMED


def evidence_entry_name(item) -> str:
    """A 佐证材料 file's entry in a bulk ZIP: unique by id, readable by title, one safe component.
    (Here, not on the model: the model importing bulk made an import cycle.)"""
    stored = item.file.name.rsplit("/", 1)[-1]
    extension = "." + stored.rsplit(".", 1)[-1] if "." in stored else ""
    return f"{item.pk:06d}-{safe_component(item.title)}{extension}"


def entry_stem(a: Assessment) -> str:
    """The id makes the name unique; the unit and the title only make it readable."""
    return f"{a.pk:05d}-{safe_component(a.unit.short_name or a.unit.name)}-{safe_component(a.title)}"


def request(round_, user, *, with_evidence: bool = False) -> BulkExport:
    """Record the request (`tasks.queue_bulk` records it and starts the job once it commits)."""
    return BulkExport.objects.create(round=round_, requested_by=user, with_evidence=with_evidence)


def build(bulk_id: int) -> None:
    job = BulkExport.objects.select_related("round").get(pk=bulk_id)
    published = list(
        Assessment.objects.filter(round=job.round, state=Assessment.State.PUBLISHED, confidential=False)
        .select_related("unit", "round", "publication")
        .order_by("unit__name", "kind", "project_name", "pk")
    )
    BulkExport.objects.filter(pk=bulk_id).update(status=BulkExport.Status.RUNNING, total=len(published), done=0)
    name = f"bulk/round-{job.round.year}-{bulk_id}.zip"
    # The ZIP is built in a private temporary file on this machine (never in memory), then stored
    # through the storage API in one piece: a reader never sees half of it, on any machine.
    try:
        with tempfile.TemporaryFile(prefix="portal-bulk-") as tmp:
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                names = set()
                for n, a in enumerate(published, start=1):
                    stem = entry_stem(a)
                    for field in ("xlsx", "json"):
                        stored = getattr(a.publication, field)
                        entry = f"{stem}.{field}"
                        _add(archive, names, entry, stored.name)
                    if job.with_evidence:
                        for item in evidence_for(a):
                            entry = f"{stem}-佐证材料/{evidence_entry_name(item)}"
                            _add(archive, names, entry, item.file.name, folder=True)
                    BulkExport.objects.filter(pk=bulk_id).update(done=n)
            tmp.seek(0)
            storage.put(name, tmp)
    except Exception as exc:
        BulkExport.objects.filter(pk=bulk_id).update(
            status=BulkExport.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000], finished_at=timezone.now()
        )
        raise
    BulkExport.objects.filter(pk=bulk_id).update(status=BulkExport.Status.DONE, file=name, finished_at=timezone.now())


def _add(archive: zipfile.ZipFile, names: set, entry: str, stored_name: str, *, folder: bool = False) -> None:
    """One stored file into the ZIP under `entry` (one safe component, or one folder and one
    component when `folder`), copied in chunks."""
    parts = entry.split("/")
    if entry in names or len(parts) != (2 if folder else 1) or ".." in entry or "\\" in entry or any(not p for p in parts):
        raise ValueError(f"unsafe or duplicate ZIP entry name {entry!r}")
    names.add(entry)
    with archive.open(entry, "w") as target:
        storage.copy_to(stored_name, target)


def evidence_for(a: Assessment):
    """The evidence of the version last submitted (frozen), as the reviewer sees it."""
    from . import evidence

    return evidence.submitted_items(a)
