"""Timing machinery: requests through Django's test Client, render floors, Django floors.

- A *capture* pass runs a request once with the test instrumentation on (so the response carries
  its template and context) and with every SQL query recorded: query count, response size, the
  slowest queries, the template and its context.
- The context is *materialised* (querysets → lists, lazy objects → their values), and the render
  floor is `render_to_string(template, context)` on it: rendering alone, no request, no query.
- Timed passes run without the instrumentation (it copies the context at every template render),
  interleaved (page, render floor, Django floor, page, …) so that noise from a busy machine hits
  each of them alike; min and median are reported.
"""

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.contrib.messages.storage.base import BaseStorage
from django.core.paginator import Page
from django.db import connection
from django.db.models.query import QuerySet
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext, setup_test_environment, teardown_test_environment
from django.utils.functional import Promise, SimpleLazyObject, empty


class BenchError(RuntimeError):
    pass


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def summary(samples: list[float]) -> dict:
    if not samples:
        return {"n": 0}
    return {
        "n": len(samples),
        "min_ms": ms(min(samples)),
        "median_ms": ms(statistics.median(samples)),
        "mean_ms": ms(statistics.fmean(samples)),
        "max_ms": ms(max(samples)),
    }


# --- Capture --------------------------------------------------------------------------------------


@dataclass
class Captured:
    status: int
    size: int
    queries: int
    slowest: list[dict]
    template: str | None
    context: dict | None
    response: object


def do_request(client, method: str, url: str, body: str | None = None):
    if method == "get":
        response = client.get(url)
    else:
        response = client.post(url, body or "", content_type="application/x-www-form-urlencoded")
    if response.streaming:
        # A stored file: read it all, as a download would.
        response.streamed_size = sum(len(chunk) for chunk in response.streaming_content)
    return response


def capture(client, method: str, url: str, body: str | None = None, expect: int = 200) -> Captured:
    """One request with the test instrumentation on: template, context, queries, size."""
    setup_test_environment()
    try:
        with CaptureQueriesContext(connection) as queries:
            response = do_request(client, method, url, body)
    finally:
        teardown_test_environment()
    if response.status_code != expect:
        raise BenchError(f"{method.upper()} {url}: status {response.status_code}, expected {expect}")
    size = response.streamed_size if response.streaming else len(response.content)
    slowest = sorted(queries.captured_queries, key=lambda q: float(q["time"]), reverse=True)[:3]
    template = context = None
    if getattr(response, "templates", None):
        template = response.templates[0].name
        context = materialise(response.context[0].flatten())
    return Captured(
        status=response.status_code,
        size=size,
        queries=len(queries.captured_queries),
        slowest=[{"ms": round(float(q["time"]) * 1000, 2), "sql": q["sql"][:400]} for q in slowest],
        template=template,
        context=context,
        response=response,
    )


def count_queries(fn: Callable[[], object]) -> int:
    with CaptureQueriesContext(connection) as queries:
        fn()
    return len(queries.captured_queries)


def materialise(context: dict) -> dict:
    """The context as plain values already in memory: what rendering sees when fetching is free."""
    return {key: _plain(value) for key, value in context.items()}


def _plain(value):
    if isinstance(value, SimpleLazyObject):
        if value._wrapped is empty:
            value._setup()
        return _plain(value._wrapped)
    if isinstance(value, Promise):
        return str(value)
    if isinstance(value, QuerySet):
        return list(value)
    if isinstance(value, BaseStorage):
        return list(value)
    if isinstance(value, Page):
        if not isinstance(value.object_list, list):
            value.object_list = list(value.object_list)
        value.paginator.count, value.paginator.num_pages  # noqa: B018  (cached properties: evaluate now)
        return value
    if type(value).__name__ in ("dict_values", "dict_keys"):
        return list(value)
    return value


def render_floor(captured: Captured) -> Callable[[], int]:
    if captured.template is None:
        raise BenchError("no template captured")
    template, context = captured.template, captured.context

    def run() -> int:
        return len(render_to_string(template, context).encode())

    return run


# --- Timed cases ----------------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    run: Callable[[], object]
    pre: Callable[[], None] | None = None
    max_reps: int | None = None
    samples: list[float] = field(default_factory=list)


def request_case(name, client, method, url, *, body: Callable[[], str] | str | None = None, expect=200, pre=None,
                 max_reps=None) -> Case:
    state = {"body": body if isinstance(body, str) or body is None else None}

    def before():
        if pre is not None:
            pre()
        if callable(body):
            state["body"] = body()  # encode outside the timing

    def run():
        response = do_request(client, method, url, state["body"])
        if response.status_code != expect:
            raise BenchError(f"{name}: {method.upper()} {url} answered {response.status_code}, expected {expect}")
        return response

    return Case(name, run, before, max_reps)


def interleave(cases: list[Case], reps: int, log=print, warmup: bool = True) -> None:
    """Run every case `reps` times, round-robin, after one untimed warm-up each."""
    if warmup:
        for case in cases:
            if case.pre:
                case.pre()
            case.run()
    for rep in range(reps):
        for case in cases:
            if case.max_reps is not None and rep >= case.max_reps:
                continue
            if case.pre:
                case.pre()
            t0 = time.perf_counter()
            case.run()
            case.samples.append(time.perf_counter() - t0)
        if reps > 1 and (rep + 1) % 5 == 0:
            log(f"    rep {rep + 1}/{reps}")


def freeze_gc() -> None:
    """Move everything alive now out of the collector's way, so collections cost the same in every case."""
    gc.collect()
    gc.freeze()


def form_data(entry) -> dict:
    """The entry form as a browser posts it."""
    return entry.as_post_data()


def encode(data: dict) -> str:
    return urlencode(data)
