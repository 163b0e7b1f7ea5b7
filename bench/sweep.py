#!/usr/bin/env python
"""Every main HTML page, each for the role that uses it, against the Django floor of its bytes
(issue 17, part 5: "every HTML page ≤ 40× the Django floor").

The benchmark (bench/run.py) measures a few paths in depth; this sweep takes one median per page
over the same population, to find the pages nobody measured. Run it after a benchmark run that
kept its population:

    .venv/bin/python bench/run.py --keep-db [--only entry]   # generates portal_bench
    .venv/bin/python bench/sweep.py [--reps 7] [--out FILE.md]

Each page is measured twice (ADR 0025):
- opened again with nothing changed: a logged-in user's page is served whole from the cache, a
  public page from the public cache;
- after a change: the data generation renewed before each request (as any write anywhere does),
  so a logged-in user's page is rendered; for public pages the public cache emptied (cold), as in
  the benchmark.
The Django floor is bench/urls.py's no-query, no-template view returning as many bytes.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import config  # noqa: E402

LIMIT = 40


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Every main HTML page against the Django floor of its bytes.")
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--out", default="", help="also write the table to this Markdown file")
    args = p.parse_args(argv)

    import os

    os.environ.update(config.environment())
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.cache import cache, caches
    from django.test import Client
    from django.test.utils import override_settings
    from django.urls import reverse

    from assessments import generations
    from assessments.models import Assessment, DataGeneration
    from bench import population

    meta = json.loads((config.WORK_DIR / "population.json").read_text())
    users = get_user_model().objects
    officer, reviewer, anonymous = Client(), Client(), Client()
    officer.force_login(users.get(username=population.OFFICER))
    reviewer.force_login(users.get(username=population.REVIEWER))
    draft = meta["probes"][population.PROBE_EDIT]
    published = meta["probes"][population.PROBE_PUBLIC]
    current_year = Assessment.objects.get(pk=draft).round.year
    submitted = Assessment.objects.filter(state="submitted", round__year=current_year).order_by("pk").first().pk
    pages = [
        ("填报人", officer, reverse("assessments:list")),
        ("填报人", officer, reverse("assessments:detail", args=[draft])),
        ("填报人", officer, reverse("assessments:edit", args=[draft])),
        ("填报人", officer, reverse("assessments:evidence", args=[draft])),
        ("填报人", officer, reverse("assessments:todo")),
        ("填报人", officer, reverse("assessments:create")),
        ("填报人", officer, reverse("assessments:import")),
        ("填报人", officer, reverse("assessments:word_import")),
        ("财政局审核人", reviewer, reverse("assessments:dashboard")),
        ("财政局审核人", reviewer, reverse("assessments:review", args=[submitted])),
        ("财政局审核人", reviewer, reverse("assessments:review_rectifications", args=[submitted])),
        ("财政局审核人", reviewer, reverse("assessments:todo")),
        ("财政局审核人", reviewer, reverse("assessments:season")),
        ("财政局审核人", reviewer, reverse("assessments:season_targets")),
        ("财政局审核人", reviewer, reverse("assessments:register")),
        ("财政局审核人", reviewer, reverse("assessments:bulk")),
        ("财政局审核人", reviewer, reverse("assessments:spot_checks")),
        ("财政局审核人", reviewer, reverse("assessments:results")),
        ("财政局审核人", reviewer, reverse("assessments:summaries")),
        ("公众", anonymous, reverse("disclosure:list")),
        ("公众", anonymous, reverse("disclosure:detail", args=[published])),
        ("公众", anonymous, reverse("disclosure:rectifications")),
    ]

    def changed(public):
        if public:
            cache.clear()
            caches["public_local"].clear()
        else:
            generations.renew(DataGeneration)

    def median(client, path, pre=None):
        times, response = [], None
        for _ in range(args.reps):
            if pre is not None:
                pre()
            start = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - start) * 1000)
        return statistics.median(times), response

    rows = []
    with override_settings(ROOT_URLCONF="bench.urls"):
        for role, client, path in pages:
            first = client.get(path)
            if first.status_code != 200:
                rows.append((None, role, path, None, None, 0, None, f"answered {first.status_code}"))
                continue
            public = role == "公众"
            again, response = median(client, path)
            after, _ = median(client, path, pre=lambda public=public: changed(public))
            size = len(response.content)
            floor, _ = median(anonymous, reverse("bench_floor", args=[size]))
            rows.append((again / floor, role, path, again, after, size, floor, ""))
    rows.sort(key=lambda r: -(r[0] or 0))
    lines = [
        f"Every main page, median of {args.reps} (ms), on the population in `{config.DB_NAME}`.",
        "",
        "*Again*: opened again with nothing changed. *After a change*: the data generation renewed before",
        "each request (a logged-in page is rendered), or for public pages the public cache emptied (cold).",
        "",
        "| page | role | size | Django floor | again | × floor | ≤ 40× | after a change | × floor | ≤ 40× |",
        "|---|---|---:|---:|---:|---:|---|---:|---:|---|",
    ]

    def verdict(ratio):
        return "met" if ratio <= LIMIT else "**missed**"

    for ratio, role, path, again, after, size, floor, note in rows:
        if ratio is None:
            lines.append(f"| `{path}` | {role} | — | — | — | — | — | — | — | {note} |")
            continue
        lines.append(f"| `{path}` | {role} | {size / 1024:.1f} KiB | {floor:.2f} | {again:.1f} | {ratio:.0f}× | "
                     f"{verdict(ratio)} | {after:.1f} | {after / floor:.0f}× | {verdict(after / floor)} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
