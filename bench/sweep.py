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
The Django floor is bench/urls.py's no-query, no-template view returning as many bytes, asked by
the page's own client, as the benchmark asks it (bench/runner.py: a logged-in user's floor
includes what the stack does for any logged-in request: the session and the generations, one
query). Until the eleventh round the sweep asked it anonymously for every page (about half the
logged-in floor); that floor is still shown, with the ratio to it, in the last columns.
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
    from assessments.models import DataGeneration
    from bench import population
    from bench.pages import main_pages

    meta = json.loads((config.WORK_DIR / "population.json").read_text())
    users = get_user_model().objects
    officer, reviewer, anonymous = Client(), Client(), Client()
    officer.force_login(users.get(username=population.OFFICER))
    reviewer.force_login(users.get(username=population.REVIEWER))
    pages = main_pages(meta, officer, reviewer, anonymous)

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
        for page in pages:
            role, client, path = page.role, page.client, page.url
            first = client.get(path)
            if first.status_code != 200:
                rows.append((None, role, path, None, None, 0, None, None, f"answered {first.status_code}"))
                continue
            public = page.public
            again, response = median(client, path)
            after, _ = median(client, path, pre=lambda public=public: changed(public))
            size = len(response.content)
            floor, _ = median(client, reverse("bench_floor", args=[size]))
            bare, _ = median(anonymous, reverse("bench_floor", args=[size]))
            rows.append((again / floor, role, path, again, after, size, floor, bare, ""))
    rows.sort(key=lambda r: -(r[0] or 0))
    lines = [
        f"Every main page, median of {args.reps} (ms), on the population in `{config.DB_NAME}`.",
        "",
        "*Again*: opened again with nothing changed. *After a change*: the data generation renewed before",
        "each request (a logged-in page is rendered), or for public pages the public cache emptied (cold).",
        "",
        "*Django floor*: the floor view asked by the page's own client (as the benchmark asks it); *anonymous*:",
        "asked without a session (the sweep's floor until the eleventh round), with the ratio after a change to it.",
        "",
        "| page | role | size | Django floor | again | × floor | ≤ 40× | after a change | × floor | ≤ 40× "
        "| anonymous floor | after a change × it |",
        "|---|---|---:|---:|---:|---:|---|---:|---:|---|---:|---:|",
    ]

    def verdict(ratio):
        return "met" if ratio <= LIMIT else "**missed**"

    for ratio, role, path, again, after, size, floor, bare, note in rows:
        if ratio is None:
            lines.append(f"| `{path}` | {role} | — | — | — | — | — | — | — | {note} | — | — |")
            continue
        lines.append(f"| `{path}` | {role} | {size / 1024:.1f} KiB | {floor:.2f} | {again:.1f} | {ratio:.0f}× | "
                     f"{verdict(ratio)} | {after:.1f} | {after / floor:.0f}× | {verdict(after / floor)} "
                     f"| {bare:.2f} | {after / bare:.0f}× |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
