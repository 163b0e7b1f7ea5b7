#!/usr/bin/env python3
"""The Docker build context of this repository, as `docker build` would send it, on the host.

    python3 scripts/docker_context.py list [ROOT]          every file that goes into the image
    python3 scripts/docker_context.py copy ROOT DEST       copy those files to DEST (the image's /app)

Applies ROOT/.dockerignore with Docker's rules (moby's patternmatcher): a pattern is a path
relative to the context root (a leading "/" is dropped), `*` matches within one path segment,
`?` one character, `**` any number of segments, `[...]` a character class; a file is left out
when a pattern matches it or one of its parent directories. Exception lines ("!pattern") are
refused rather than half-supported: keep .dockerignore to plain patterns. Standard library only.
"""

import os
import re
import shutil
import sys
from pathlib import Path


def pattern_regex(pattern: str) -> re.Pattern:
    """Regex for one .dockerignore pattern, the way moby's patternmatcher compiles it."""
    out = "^"
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            if pattern[i + 1:i + 2] == "*":
                i += 1
                if pattern[i + 1:i + 2] == "/":  # "**/" : zero or more directories
                    i += 1
                    out += "(.*/)?"
                else:  # "**" at the end or before other characters: anything
                    out += ".*"
            else:
                out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                raise ValueError(f".dockerignore: unterminated character class in {pattern!r}")
            body = pattern[i + 1:end]
            if body[:1] in ("!", "^"):
                body = "^" + body[1:]
            out += "[" + body + "]"
            i = end
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        else:
            out += re.escape(ch)
        i += 1
    return re.compile(out + "$")


def read_patterns(root: Path) -> list[re.Pattern]:
    path = root / ".dockerignore"
    if not path.exists():
        return []
    patterns = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("!"):
            raise ValueError(f".dockerignore: exception patterns are not supported here: {line!r}")
        cleaned = os.path.normpath(line.lstrip("/")).replace(os.sep, "/")
        patterns.append(pattern_regex(cleaned))
    return patterns


def ignored(relative: str, patterns: list[re.Pattern]) -> bool:
    parts = relative.split("/")
    candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    return any(p.match(c) for p in patterns for c in candidates)


def context_files(root: Path) -> list[str]:
    patterns = read_patterns(root)
    files = []
    for directory, dirnames, filenames in os.walk(root):
        rel_dir = Path(directory).relative_to(root).as_posix()
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        dirnames[:] = sorted(d for d in dirnames if not ignored(rel_dir + d, patterns))
        files.extend(rel_dir + f for f in sorted(filenames) if not ignored(rel_dir + f, patterns))
    return sorted(files)


def copy_context(root: Path, dest: Path) -> int:
    files = context_files(root)
    for rel in files:
        source, target = root / rel, dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, target)
    return len(files)


def main(argv: list[str]) -> int:
    if len(argv) >= 1 and argv[0] == "list" and len(argv) <= 2:
        root = Path(argv[1] if len(argv) == 2 else ".").resolve()
        print("\n".join(context_files(root)))
        return 0
    if len(argv) == 3 and argv[0] == "copy":
        root, dest = Path(argv[1]).resolve(), Path(argv[2])
        count = copy_context(root, dest)
        print(f"docker_context: copied {count} files to {dest}")
        return 0
    print(__doc__, file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
