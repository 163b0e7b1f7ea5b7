"""``manage.py link_lineage``: link indicators across years in data entered before lineage existed.

Migration 0005 gave every existing indicator its own lineage, so assessments entered (or
imported) before then show no earlier years. This command walks each unit's assessments from the
oldest year up and gives every indicator the lineage of the same indicator (一级, 二级, 三级 name)
in the unit's previous assessment of the same kind and project — the one "start from last year"
would have copied — then recomputes the risk flags of the assessments it changed. Safe to run
again: rows already linked are left as they are. ``--dry-run`` counts without writing.
"""

from django.core.management.base import BaseCommand
from django.db import transaction

from assessments import services
from assessments.models import Assessment, Indicator


class Command(BaseCommand):
    help = "Link indicators of earlier and later years by 一级/二级/三级 name (data from before lineage)."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="count the rows that would be linked, change nothing")

    def handle(self, *args, dry_run=False, **options):
        linked = changed_assessments = 0
        with transaction.atomic():
            for a in Assessment.objects.select_related("round", "unit").order_by("round__year", "id"):
                previous = services.previous_assessment(
                    unit=a.unit, round=a.round, kind=a.kind, project_name=a.project_name
                )
                if previous is None:
                    continue
                last_year = list(Indicator.objects.filter(assessment=previous).order_by("position", "id"))
                n = services.restore_identities(a, [], last_year)
                if n:
                    linked += n
                    changed_assessments += 1
                    services.refresh_scores(a)
            if dry_run:
                transaction.set_rollback(True)
        verb = "将链接" if dry_run else "已链接"
        self.stdout.write(f"{verb} {linked} 行指标（{changed_assessments} 份自评）。")
