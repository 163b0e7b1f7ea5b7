"""axe-core in the browser tests (issue 17): `violations(page)` runs the axe-core bundled by
axe-playwright-python (pinned in requirements-dev.txt; no CDN) with its default rules and
returns what it found, one line per rule and element, so an assertion shows what to fix."""

from axe_playwright_python.sync_playwright import Axe

_axe = Axe()


def violations(page) -> list[str]:
    """Every violation on the page once its transitions have ended: "rule (impact): target — help".
    (A button just clicked is still fading between Bootstrap's colours for 0.15 s: read in between,
    its contrast is neither colour's.)"""
    page.evaluate("""() => Promise.all(document.getAnimations()
        .filter((a) => a.effect && a.effect.getComputedTiming().endTime !== Infinity)  // not a spinner
        .map((a) => a.finished.catch(() => null)))""")
    results = _axe.run(page)
    found = []
    for v in results.response["violations"]:
        for node in v["nodes"]:
            target = " ".join(str(t) for t in node["target"])
            found.append(f"{v['id']} ({v['impact']}): {target} — {v['help']}")
    return found
