"""Write every rendering of every assessment in a database to a folder, for comparison.

Used to prove that a schema or code change renders existing data exactly as before (the 表样
migration, docs/adr/0010): run it on a database before the change and after, then compare the
folders (`--compare OLD NEW`). Files per assessment <pk>:

  <pk>.paper.html     the read-only paper form (whitespace between tags normalised)
  <pk>.scores.json    cached and computed totals, grade, flags, rate, every row's score and
                      explanation
  <pk>.public.json    the public open-data document (published/approved, not 涉密)
  <pk>.xlsx           the public workbook, bytes as written
  <pk>.public.html    the public page (published only; CSP nonces removed)
  snap-<pk>-<n>.paper.html   each submission snapshot rendered as it was submitted
  disclosure.csv / disclosure.json   the lists of published reports

Usage (the settings come from the environment, e.g. DATABASE_URL):
  python scripts/output_digest.py OUT_DIR [--limit N]
  python scripts/output_digest.py --compare OLD_DIR NEW_DIR
"""

import argparse
import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("DJANGO_SECRET_KEY", "output-digest-not-secret")

_BETWEEN_TAGS = re.compile(r">\s+<")
_SPACES = re.compile(r"\s+")
_NONCE = re.compile(r'\snonce="[^"]*"')


def normalise_html(text: str) -> str:
    text = _NONCE.sub("", text)
    text = _BETWEEN_TAGS.sub("><", text)
    return _SPACES.sub(" ", text).strip()


def dump(out: Path, limit: int | None) -> int:
    import django

    django.setup()
    from django.template.loader import render_to_string
    from django.test import Client

    from assessments import readmodel, scoring
    from assessments.exports import lists, xlsx
    from assessments.exports.public import load_public
    from assessments.models import Assessment, Snapshot

    out.mkdir(parents=True, exist_ok=True)
    client = Client(HTTP_HOST="localhost")
    count = 0
    qs = Assessment.objects.order_by("pk")
    if limit:
        qs = qs[:limit]
    for a in qs:
        view = readmodel.load(a.pk)
        paper = render_to_string("includes/paper_form.html", {"view": view, "show_explanations": True})
        (out / f"{a.pk}.paper.html").write_text(normalise_html(paper), encoding="utf-8")
        r = view.result
        scores = {
            "self_total": None if a.self_total is None else str(a.self_total),
            "self_grade": a.self_grade,
            "review_total": None if a.review_total is None else str(a.review_total),
            "review_grade": a.review_grade,
            "risk_flags": a.risk_flags,
            "rate": scoring.fmt(r.funding.rate),
            "funding_score": scoring.fmt(r.funding.score),
            "funding_explanation": r.funding.explanation,
            "rows": [[scoring.fmt(line.score), line.result.explanation] for line in view.indicators],
        }
        (out / f"{a.pk}.scores.json").write_text(json.dumps(scores, ensure_ascii=False, indent=1), encoding="utf-8")
        if a.state in (Assessment.State.APPROVED, Assessment.State.PUBLISHED) and not a.confidential:
            report = load_public(a.pk)
            (out / f"{a.pk}.public.json").write_text(
                json.dumps(report.to_json(), ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8"
            )
            (out / f"{a.pk}.xlsx").write_bytes(xlsx.to_bytes(report))
        if a.state == Assessment.State.PUBLISHED and not a.confidential:
            response = client.get(f"/disclosure/{a.pk}/")
            (out / f"{a.pk}.public.html").write_text(normalise_html(response.content.decode()), encoding="utf-8")
        for snap in Snapshot.objects.filter(assessment=a).order_by("number"):
            snapped = readmodel.from_snapshot(view.assessment, snap.data)
            html = render_to_string("includes/paper_form.html", {"view": snapped, "show_explanations": True})
            (out / f"snap-{a.pk}-{snap.number}.paper.html").write_text(normalise_html(html), encoding="utf-8")
        count += 1
    shown = lists.listed()
    (out / "disclosure.json").write_bytes(lists.json_bytes(shown))
    try:
        (out / "disclosure.csv").write_bytes(lists.csv_bytes(shown))
    except FileNotFoundError:  # stored JSON documents not on this machine
        pass
    return count


def compare(old: Path, new: Path) -> int:
    """Every file of OLD must exist in NEW with the same content (public JSON: the old keys)."""
    bad = 0
    for path in sorted(old.iterdir()):
        other = new / path.name
        if not other.exists():
            print(f"missing: {path.name}")
            bad += 1
            continue
        if path.name.endswith(".public.json"):
            before, after = json.loads(path.read_text()), json.loads(other.read_text())
            before.pop("schema_version", None)  # the document's version rises when keys are added
            if not _contains(before, after):
                print(f"differs: {path.name}")
                bad += 1
        elif path.read_bytes() != other.read_bytes():
            print(f"differs: {path.name}")
            bad += 1
    print(f"{len(list(old.iterdir()))} files compared, {bad} differ")
    return bad


def _contains(before, after) -> bool:
    """`after` has every key of `before` with the same value (keys may be added, never changed)."""
    if isinstance(before, dict):
        return isinstance(after, dict) and all(k in after and _contains(v, after[k]) for k, v in before.items())
    if isinstance(before, list):
        return isinstance(after, list) and len(before) == len(after) and all(
            _contains(b, a) for b, a in zip(before, after, strict=True)
        )
    return before == after


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--compare", nargs=2, metavar=("OLD", "NEW"))
    args = parser.parse_args()
    if args.compare:
        return 1 if compare(Path(args.compare[0]), Path(args.compare[1])) else 0
    if not args.out:
        parser.error("OUT_DIR is required")
    print(f"{dump(Path(args.out), args.limit)} assessments written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
