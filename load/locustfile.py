"""Deadline-day load on the portal: officers viewing and saving their forms, reviewers on the
dashboard, anonymous readers on the public pages, one monitoring probe on /healthz.

Run it through load/run.sh (gunicorn + worker on 127.0.0.1, database portal_load, bounded time).
It reads load/.work/population.json (load/populate.py) and, when the run ends, writes
LOAD_RESULTS_DIR/LOAD_LABEL.json and .md: throughput, p50/p95/p99 per page and in total,
status codes and errors.

Every user logs in through the real login form once (Argon2, as in production), then loops over
its tasks with a think time. Officers each get their own unit's draft (no two users edit one
draft, so every save is expected to succeed: 302). Reviewers open review pages found on their
dashboard. Readers use the cached public list, search, detail and JSON download.
"""

import itertools
import json
import os
import random
import re
import time
from html.parser import HTMLParser
from pathlib import Path

from locust import HttpUser, between, events, task

WORK_DIR = Path(os.environ.get("LOAD_WORK_DIR", Path(__file__).resolve().parent / ".work"))
POPULATION = json.loads((WORK_DIR / "population.json").read_text())
PASSWORD = POPULATION["password"]
CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
REVIEW_LINK_RE = re.compile(r'href="/assessments/review/(\d+)/"')

_officers = itertools.count()
_reviewers = itertools.count()
STATUS_COUNTS: dict[str, int] = {}  # never reset (locust's own stats are, after the ramp-up, with --reset-stats)
SERVER_ERRORS: list[str] = []
FAILURES_ALL_RUN: dict[str, int] = {}


class EntryFormFields(HTMLParser):
    """The fields the browser would post from form#entry-form (not those inside <template>)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.fields: list[tuple[str, str]] = []
        self.in_form = False
        self.in_template = 0
        self.select: str | None = None
        self.select_value: str | None = None
        self.select_first: str | None = None
        self.option_value: str | None = None
        self.textarea: str | None = None
        self.text = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("id") == "entry-form":
            self.in_form = True
        if not self.in_form:
            return
        if tag == "template":
            self.in_template += 1
        if self.in_template:
            return
        name = a.get("name")
        if tag == "input" and name and a.get("type", "text") not in ("submit", "button", "file", "image"):
            if a.get("type") in ("checkbox", "radio"):
                if "checked" in a:
                    self.fields.append((name, a.get("value", "on")))
            else:
                self.fields.append((name, a.get("value") or ""))
        elif tag == "select" and name:
            self.select, self.select_value, self.select_first = name, None, None
        elif tag == "option" and self.select is not None:
            value = a.get("value", "")
            if self.select_first is None:
                self.select_first = value
            if "selected" in a:
                self.select_value = value
        elif tag == "textarea" and name:
            self.textarea, self.text = name, ""

    def handle_endtag(self, tag):
        if not self.in_form:
            return
        if tag == "template":
            self.in_template -= 1
        elif tag == "form" and not self.in_template:
            self.in_form = False
        elif self.in_template:
            return
        elif tag == "select" and self.select is not None:
            value = self.select_value if self.select_value is not None else (self.select_first or "")
            self.fields.append((self.select, value))
            self.select = None
        elif tag == "textarea" and self.textarea is not None:
            self.fields.append((self.textarea, self.text.removeprefix("\n")))
            self.textarea = None

    def handle_data(self, data):
        if self.textarea is not None:
            self.text += data


class PortalUser(HttpUser):
    abstract = True

    def login(self, username: str) -> bool:
        page = self.client.get("/login/", name="/login/ (GET)")
        token = CSRF_RE.search(page.text or "")
        if not token:
            return False
        with self.client.post("/login/", name="/login/ (POST)", allow_redirects=False, catch_response=True,
                              data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token.group(1),
                                    "next": ""}) as response:
            if response.status_code != 302 or "/login/" in response.headers.get("Location", ""):
                response.failure(f"login of {username} refused ({response.status_code})")
                return False
        return True


class Officer(PortalUser):
    """A unit's officer on deadline day: opens the form, saves, looks at the list and the paper view."""

    weight = 6
    wait_time = between(2, 6)

    def on_start(self):
        officers = POPULATION["officers"]
        me = officers[next(_officers) % len(officers)]
        self.username, self.pk = me["username"], me["assessment"]
        self.edit_url = f"/assessments/{self.pk}/edit/"
        self.saves = 0
        self.login(self.username)

    @task(3)
    def open_form(self):
        self.client.get(self.edit_url, name="/assessments/[id]/edit/ (GET)")

    @task(3)
    def save_form(self):
        page = self.client.get(self.edit_url, name="/assessments/[id]/edit/ (GET)")
        if page.status_code != 200:
            return
        parser = EntryFormFields()
        parser.feed(page.text)
        fields = [(k, v) for k, v in parser.fields if k != "action"]
        self.saves += 1
        # Change what an officer changes at the last minute: a deviation reason (or a goal's text).
        for i, (name, _value) in enumerate(fields):
            if name.endswith("-reason") or name.endswith("-achieved"):
                fields[i] = (name, f"截至申报截止日的补充说明（第{self.saves}次保存）")
                break
        fields.append(("action", "save"))
        with self.client.post(self.edit_url, data=fields, name="/assessments/[id]/edit/ (POST save)",
                              allow_redirects=False, catch_response=True) as response:
            if response.status_code != 302:
                response.failure(f"save answered {response.status_code}")

    @task(1)
    def my_list(self):
        self.client.get("/assessments/", name="/assessments/")

    @task(1)
    def paper_view(self):
        self.client.get(f"/assessments/{self.pk}/", name="/assessments/[id]/")


class Reviewer(PortalUser):
    """A finance-bureau reviewer: the dashboard (filters, later pages) and the submissions on it."""

    weight = 2
    wait_time = between(2, 6)

    def on_start(self):
        reviewers = POPULATION["reviewers"]
        self.login(reviewers[next(_reviewers) % len(reviewers)])
        self.seen: list[str] = []

    def dashboard(self, query: str, name: str):
        response = self.client.get(f"/assessments/review/{query}", name=name)
        if response.status_code == 200:
            self.seen = REVIEW_LINK_RE.findall(response.text) or self.seen

    @task(3)
    def first_page(self):
        self.dashboard("", "/assessments/review/")

    @task(2)
    def filtered(self):
        self.dashboard(random.choice(["?state=submitted", "?state=in_review", "?kind=project&state=submitted",
                                      "?q=平安"]), "/assessments/review/?filters")

    @task(1)
    def deep_page(self):
        self.dashboard(f"?page={random.randint(2, 30)}", "/assessments/review/?page=N")

    @task(3)
    def open_submission(self):
        if self.seen:
            self.client.get(f"/assessments/review/{random.choice(self.seen)}/", name="/assessments/review/[id]/")


class Reader(HttpUser):
    """The public: the disclosure list, filters and search, a report, its JSON."""

    weight = 4
    wait_time = between(1, 4)

    @task(3)
    def list_page(self):
        page = random.choice(["", "?page=2", "?page=5"])
        self.client.get(f"/disclosure/{page}", name="/disclosure/")

    @task(2)
    def filtered(self):
        query = random.choice([f"?year={POPULATION['current_year'] - 1}", "?kind=project", "?q=平安建设", "?q=培训",
                               f"?year={POPULATION['current_year']}&kind=department"])
        self.client.get(f"/disclosure/{query}", name="/disclosure/?filters")

    @task(4)
    def report(self):
        self.client.get(f"/disclosure/{random.choice(POPULATION['published'])}/", name="/disclosure/[id]/")

    @task(1)
    def report_json(self):
        self.client.get(f"/disclosure/{random.choice(POPULATION['published'])}.json", name="/disclosure/[id].json")


class Monitor(HttpUser):
    """One monitoring probe."""

    fixed_count = 1
    wait_time = between(4, 6)

    @task
    def healthz(self):
        with self.client.get("/healthz", name="/healthz", catch_response=True) as response:
            if response.status_code != 200 or response.json().get("database") != "ok":
                response.failure(f"healthz {response.status_code}")


# --- Results ----------------------------------------------------------------------------------------

_started = time.time()


@events.request.add_listener
def count_status(request_type, name, response, exception, **kwargs):
    code = getattr(response, "status_code", None)
    key = str(code) if code else f"no response ({type(exception).__name__ if exception else '?'})"
    STATUS_COUNTS[key] = STATUS_COUNTS.get(key, 0) + 1
    if code and code >= 500 and len(SERVER_ERRORS) < 50:
        SERVER_ERRORS.append(f"{request_type} {name}: {code}")
    if exception is not None:
        key = f"{request_type} {name}: {exception}"[:200]
        FAILURES_ALL_RUN[key] = FAILURES_ALL_RUN.get(key, 0) + 1


@events.test_start.add_listener
def on_start(environment, **kwargs):
    global _started
    _started = time.time()


def _row(entry) -> dict:
    return {
        "name": entry.name,
        "method": entry.method,
        "requests": entry.num_requests,
        "failures": entry.num_failures,
        "rps": round(entry.total_rps, 2),
        "p50_ms": entry.get_response_time_percentile(0.50),
        "p95_ms": entry.get_response_time_percentile(0.95),
        "p99_ms": entry.get_response_time_percentile(0.99),
        "max_ms": round(entry.max_response_time or 0),
        "avg_ms": round(entry.avg_response_time, 1),
    }


@events.quitting.add_listener
def write_results(environment, **kwargs):
    stats = environment.stats
    results_dir = Path(os.environ.get("LOAD_RESULTS_DIR", Path(__file__).resolve().parent / "results"))
    label = os.environ.get("LOAD_LABEL", "latest")
    results_dir.mkdir(parents=True, exist_ok=True)
    rows = [_row(e) for e in sorted(stats.entries.values(), key=lambda e: (e.name, e.method))]
    total = _row(stats.total)
    server_errors = sum(n for code, n in STATUS_COUNTS.items() if code.isdigit() and int(code) >= 500)
    options = environment.parsed_options
    users = getattr(options, "num_users", None)
    data = {
        "label": label,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(_started)),
        "duration_s": round(time.time() - _started, 1),
        "users": users,
        "user_classes": {cls.__name__: getattr(cls, "weight", None) for cls in environment.user_classes},
        "host": environment.host,
        "gunicorn": os.environ.get("LOAD_GUNICORN", ""),
        "population": {k: POPULATION[k] for k in ("units", "current_year")}
        | {"assessments": POPULATION["counts"]["Assessment"], "officers_with_draft": len(POPULATION["officers"]),
           "published": len(POPULATION["published"]), "awaiting_review": len(POPULATION["in_review"])},
        "machine": {"cpus": os.cpu_count(), "loadavg_at_end": os.getloadavg()},
        "total": total,
        "status_codes": dict(sorted(STATUS_COUNTS.items())),
        "server_errors_5xx": server_errors,
        "server_error_samples": SERVER_ERRORS[:20],
        "stats_reset_after_ramp_up": bool(getattr(options, "reset_stats", False)),
        "failures_whole_run": dict(sorted(FAILURES_ALL_RUN.items())),
        "failures": [{"name": f.name, "method": f.method, "error": str(f.error), "count": f.occurrences}
                     for f in stats.errors.values()],
        "requests": rows,
    }
    (results_dir / f"{label}.json").write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n")

    lines = [
        f"### Load test `{label}` ({data['started']}, {users} users, "
        + ("figures after the ramp-up" if data["stats_reset_after_ramp_up"] else f"{data['duration_s']} s incl. ramp-up")
        + ")",
        "",
        f"Population: {data['population']['units']} units, {data['population']['assessments']} assessments "
        f"({data['population']['officers_with_draft']} officers with a draft due today, "
        f"{data['population']['published']} published, {data['population']['awaiting_review']} awaiting review). "
        f"Server: {data['gunicorn'] or 'gunicorn'} on {environment.host}, PostgreSQL + Redis on loopback, "
        f"{data['machine']['cpus']} CPUs shared with locust; load average at the end "
        f"{', '.join(f'{x:.2f}' for x in data['machine']['loadavg_at_end'])}.",
        "",
        f"**Total: {total['requests']} requests, {total['rps']} req/s, p50 {total['p50_ms']} ms, "
        f"p95 {total['p95_ms']} ms, p99 {total['p99_ms']} ms, {total['failures']} failures, "
        f"{server_errors} server errors (5xx).** Status codes: "
        + ", ".join(f"{k}: {v}" for k, v in data["status_codes"].items()) + ".",
        "",
        "| request | count | failures | req/s | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['method']} `{r['name']}` | {r['requests']} | {r['failures']} | {r['rps']} | {r['p50_ms']} | "
                     f"{r['p95_ms']} | {r['p99_ms']} | {r['max_ms']} |")
    if data["failures_whole_run"]:
        lines += ["", "Failures (whole run, ramp-up included):", ""] + [
            f"- {k} × {v}" for k, v in data["failures_whole_run"].items()]
    (results_dir / f"{label}.md").write_text("\n".join(lines) + "\n")
