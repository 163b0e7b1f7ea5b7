"""The main HTML pages, each for the role that uses it: what "every HTML page" of issue 17, part 5
covers. Declared once, read by the benchmark's `pages` group (bench/runner.py) and the sweep
(bench/sweep.py)."""

from dataclasses import dataclass

from django.urls import reverse

from . import population


@dataclass(frozen=True)
class Page:
    role: str  # as the report names it
    client: object  # django.test.Client, logged in as the role (anonymous for the public)
    url: str

    @property
    def public(self) -> bool:
        return self.role == "公众"


def main_pages(meta: dict, officer, reviewer, anonymous) -> list[Page]:
    """The officer's pages on the benchmark's draft, the reviewer's on the first submission of the
    current round still waiting (left out if there is none), the public's on a published report."""
    from assessments.models import Assessment

    draft = meta["probes"][population.PROBE_EDIT]
    published = meta["probes"][population.PROBE_PUBLIC]
    submitted = (Assessment.objects.filter(state=Assessment.State.SUBMITTED, round__year=population.CURRENT_YEAR)
                 .order_by("pk").values_list("pk", flat=True).first())
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
        *([("财政局审核人", reviewer, reverse("assessments:review", args=[submitted])),
           ("财政局审核人", reviewer, reverse("assessments:review_rectifications", args=[submitted]))]
          if submitted is not None else []),
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
    return [Page(role, client, url) for role, client, url in pages]
