"""The modules that carry the workflow, exports, tasks, the audit log and the read model import
each other without cycles — counting imports made inside functions too (issue 11: "workflow →
exporting → tasks → workflow", "audit labels ↔ models")."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every assessments module `path` imports, at the top or inside a function."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            if not base.startswith("assessments"):
                continue
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if (PACKAGE.parent / (candidate.replace(".", "/") + ".py")).exists() else base)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("assessments"))
    found.discard(name)
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py") if "tests" not in p.parts and "migrations" not in p.parts}
    return {name: {m for m in imports_of(path) if m in modules} for name, path in modules.items()}


def cycle_through(start: str, edges: dict[str, set[str]]) -> list[str] | None:
    stack = [(start, [start])]
    while stack:
        node, path = stack.pop()
        for nxt in sorted(edges.get(node, ())):
            if nxt == start:
                return path + [start]
            if nxt not in path and len(path) < 8:
                stack.append((nxt, path + [nxt]))
    return None


CORE = [
    "assessments.workflow", "assessments.exporting", "assessments.tasks", "assessments.notifications",
    "assessments.bulk", "assessments.audit", "assessments.audit_labels", "assessments.models.audit",
    "assessments.readmodel", "assessments.document", "assessments.history", "assessments.flags",
    "assessments.services", "assessments.forms", "assessments.scoring", "assessments.tablespec",
]


def test_the_core_modules_import_each_other_without_cycles():
    edges = graph()
    cycles = {name: cycle_through(name, edges) for name in CORE}
    assert {name: cycle for name, cycle in cycles.items() if cycle} == {}


def test_the_named_cycles_are_gone():
    edges = graph()
    assert "assessments.exporting" not in edges["assessments.workflow"]
    assert "assessments.tasks" not in edges["assessments.workflow"]
    assert "assessments.tasks" not in edges["assessments.exporting"]
    assert "assessments.workflow" not in edges["assessments.exporting"]
    assert "assessments.audit" not in edges["assessments.models.audit"]
    # scoring and the table declarations are plain Python.
    assert {m for m in edges["assessments.scoring"] | edges["assessments.tablespec"]} <= {"assessments.scoring"}
