"""axe-core in the browser tests (issue 17): `violations(page)` runs the axe-core bundled by
axe-playwright-python (pinned in requirements-dev.txt; no CDN) with its default rules and
returns what it found, one line per rule and element, so an assertion shows what to fix."""

from axe_playwright_python.sync_playwright import Axe

_axe = Axe()


def violations(page) -> list[str]:
    """Every violation on the page as it is now: "rule (impact): target — help"."""
    results = _axe.run(page)
    found = []
    for v in results.response["violations"]:
        for node in v["nodes"]:
            target = " ".join(str(t) for t in node["target"])
            found.append(f"{v['id']} ({v['impact']}): {target} — {v['help']}")
    return found
