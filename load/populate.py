"""Generate the load test's population in its own database `portal_load` (never portal / test_portal).

    .venv/bin/python -m load.populate [--units 1000]

Drops and recreates portal_load, migrates it, and fills it with bench/population.py's generator
(read, not changed: one deterministic province, every table through bulk_create) at a scale of
--units budget units (default 1,000): 14 cities, their districts, one officer per unit, a
finance-bureau reviewer and one reviewer per city, three rounds (the current one due today) with
1–4 projects per unit and round. Then writes load/.work/population.json: who logs in and which
pages they use (officers with a draft or returned assessment of the current round, reviewers,
published and submitted assessments).
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from load import config  # noqa: E402  (constants only, no Django)


def psql(sql: str) -> None:
    subprocess.run(["psql", config.ADMIN_URL, "-X", "-v", "ON_ERROR_STOP=1", "-q", "-c", sql], check=True,
                   stdout=subprocess.DEVNULL)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=1000)
    args = parser.parse_args(argv)

    os.environ.update(config.environment())
    os.environ.pop("DJANGO_DEBUG", None)
    t0 = time.monotonic()
    psql(f"DROP DATABASE IF EXISTS {config.DB_NAME} WITH (FORCE)")
    psql(f"CREATE DATABASE {config.DB_NAME} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'")
    media = config.MEDIA_DIR
    if media.exists():
        import shutil

        shutil.rmtree(media)
    media.mkdir(parents=True)

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    t_migrate = time.monotonic() - t0

    from assessments.models import Assessment, Membership, Round
    from bench import population
    from bench.population import Scale

    # The full benchmark scale (3,000 units) cut down to --units: the same province, fewer units per region.
    scale = Scale(
        f"load-{args.units}", cities=14, districts_per_city=None,
        province_units=max(1, args.units * 4 // 100), city_units=max(1, args.units // 100),
        units=args.units, projects=(1, 4), rows=(15, 40), chunk_units=150, xlsx_sample=20,
    )
    meta = population.generate(scale, media, log=lambda line: print(line, flush=True))

    current = Round.objects.get(is_open=True)
    S = Assessment.State
    officer_of = dict(Membership.objects.filter(role=Membership.Role.OFFICER).values_list("unit_id", "user__username"))
    editable = {}
    for pk, unit_id in (Assessment.objects.filter(round=current, state__in=[S.DRAFT, S.RETURNED])
                        .order_by("pk").values_list("pk", "unit_id")):
        editable.setdefault(officer_of[unit_id], pk)  # one assessment per officer: no two users edit one draft
    reviewers = [population.REVIEWER] + sorted(
        get_user_model().objects.filter(username__startswith="reviewer_").values_list("username", flat=True))
    published = list(Assessment.objects.filter(state=S.PUBLISHED, confidential=False).order_by("pk")
                     .values_list("pk", flat=True))
    in_review = list(Assessment.objects.filter(round=current, state__in=[S.SUBMITTED, S.IN_REVIEW]).order_by("pk")
                     .values_list("pk", flat=True))
    out = {
        "units": args.units,
        "password": population.PASSWORD,
        "officers": [{"username": u, "assessment": pk} for u, pk in sorted(editable.items())],
        "reviewers": reviewers,
        "published": published,
        "in_review": in_review,
        "current_year": current.year,
        "counts": meta["counts"],
        "generated_seconds": round(time.monotonic() - t0, 1),
        "migrate_seconds": round(t_migrate, 1),
    }
    config.WORK_DIR.mkdir(parents=True, exist_ok=True)
    (config.WORK_DIR / "population.json").write_text(json.dumps(out, ensure_ascii=False, indent=1, default=str))
    print(f"populate: {args.units} units, {meta['counts']['Assessment']} assessments, "
          f"{len(out['officers'])} officers with an editable draft, {len(published)} published, "
          f"{len(in_review)} awaiting review; {out['generated_seconds']} s", flush=True)


if __name__ == "__main__":
    main()
