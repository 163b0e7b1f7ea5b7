"""The ZIP of every published report of a round, for reviewers."""

import zipfile
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import Assessment, BulkExport


def request(round_, user) -> BulkExport:
    """Record the request; the job starts once this commits."""
    from .tasks import build_bulk_zip

    job = BulkExport.objects.create(round=round_, requested_by=user)
    transaction.on_commit(lambda: build_bulk_zip.delay(job.pk))
    return job


def build(bulk_id: int) -> None:
    job = BulkExport.objects.select_related("round").get(pk=bulk_id)
    published = list(
        Assessment.objects.filter(round=job.round, state=Assessment.State.PUBLISHED, confidential=False)
        .select_related("unit", "round", "publication")
        .order_by("unit__name", "kind", "project_name", "pk")
    )
    BulkExport.objects.filter(pk=bulk_id).update(status=BulkExport.Status.RUNNING, total=len(published), done=0)
    name = f"bulk/round-{job.round.year}-{bulk_id}.zip"
    path = Path(settings.MEDIA_ROOT) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for n, a in enumerate(published, start=1):
                stem = f"{a.pk:05d}-{a.unit.short_name or a.unit.name}-{a.title}"
                for field in ("xlsx", "json"):
                    stored = getattr(a.publication, field)
                    archive.write(Path(settings.MEDIA_ROOT) / stored.name, f"{stem}.{field}")
                BulkExport.objects.filter(pk=bulk_id).update(done=n)
        tmp.replace(path)
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        BulkExport.objects.filter(pk=bulk_id).update(
            status=BulkExport.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000], finished_at=timezone.now()
        )
        raise
    BulkExport.objects.filter(pk=bulk_id).update(status=BulkExport.Status.DONE, file=name, finished_at=timezone.now())
