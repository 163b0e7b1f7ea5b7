"""Add gunicorn's own view to a load result: time spent inside the server per page (from the access
log, `%(M)s` = request time in ms), next to what locust measured (queueing included).

    python -m load.server_times ACCESS_LOG RESULTS_DIR LABEL
"""

import json
import re
import statistics
import sys
from pathlib import Path

LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3}) \S+ (?P<ms>\d+)ms$')


def page_name(method: str, path: str) -> str:
    path = path.split("?", 1)[0]
    return f"{method} " + re.sub(r"\d+", "[id]", path)


def main(access_log: str, results_dir: str, label: str) -> None:
    times: dict[str, list[int]] = {}
    for line in Path(access_log).read_text(errors="replace").splitlines():
        m = LINE.search(line)
        if m and "/static/" not in m["path"]:
            times.setdefault(page_name(m["method"], m["path"]), []).append(int(m["ms"]))
    rows = []
    for name, values in sorted(times.items()):
        values.sort()
        rows.append({"name": name, "requests": len(values), "median_ms": statistics.median(values),
                     "p95_ms": values[min(len(values) - 1, int(0.95 * len(values)))], "max_ms": values[-1]})
    json_path = Path(results_dir) / f"{label}.json"
    data = json.loads(json_path.read_text())
    data["server_time_whole_run"] = rows
    json_path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    md = [
        "",
        "Time inside gunicorn per page (access log, whole run incl. ramp-up; the rest of locust's time is",
        "queueing for one of the sync workers and the client):",
        "",
        "| page | requests | median ms | p95 ms | max ms |",
        "|---|---:|---:|---:|---:|",
    ] + [f"| `{r['name']}` | {r['requests']} | {r['median_ms']:.0f} | {r['p95_ms']} | {r['max_ms']} |" for r in rows]
    with (Path(results_dir) / f"{label}.md").open("a") as handle:
        handle.write("\n".join(md) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:4])
