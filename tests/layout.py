"""The shape of the code, read from the tree: what tests/test_layout.py enforces
and `.ci/layout-report` prints (sizes, long functions, command lengths, import
cycles, SQL outside store/, private names used across modules)."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: folders of the checkout that are not the package's code
SKIP = {".venv", "venv", "build", "tests", "bench", "data", "test-artifacts", "docs"}
#: a statement sent to SQLite (or a transaction opened by hand); a Redis
#: pipeline's ``pipe.execute()`` (crawler/worker.py, coordinator.py) is not SQL
SQL = re.compile(r"(?<!\bpipe)\.(execute|executemany|executescript)\(|\bBEGIN IMMEDIATE\b")


@dataclass
class Layout:
    sizes: dict[str, int] = field(default_factory=dict)
    long_functions: dict[str, int] = field(default_factory=dict)
    commands: dict[str, int] = field(default_factory=dict)
    sql: dict[str, list[int]] = field(default_factory=dict)
    private: list[str] = field(default_factory=list)
    exceptions: dict[str, str] = field(default_factory=dict)


def modules(root: Path = ROOT) -> list[Path]:
    """Return the package's modules (tests, benchmarks and environments left out)."""
    found = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).parts
        if parts[0] in SKIP or any(p.startswith(".") for p in parts):
            continue
        found.append(path)
    return found


def read_layout(root: Path = ROOT, *, function_limit: int = 60) -> Layout:
    """Read every module of the checkout at ``root``."""
    layout = Layout()
    for path in modules(root):
        rel = path.relative_to(root).as_posix()
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        layout.sizes[rel] = len(text.splitlines())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > function_limit:
                    layout.long_functions[f"{rel}:{node.name}"] = length
                command = command_length(node)
                if command is not None:
                    layout.commands[f"{rel}:{node.name}"] = command
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("techcal"):
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        layout.private.append(f"{rel}: {alias.name} from {node.module}")
            elif isinstance(node, ast.ClassDef) and _is_exception(node):
                layout.exceptions[node.name] = rel
        if not rel.startswith("store/"):
            lines = [n for n, line in enumerate(text.splitlines(), 1) if SQL.search(line)]
            if lines:
                layout.sql[rel] = lines
    return layout


def command_length(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int | None:
    """Return the body lines (docstring left out) of a click command, None for other functions."""
    decorators = [ast.unparse(d) for d in node.decorator_list]
    if not any(re.search(r"\.(command|group)\b", d) for d in decorators):
        return None
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    if not body:
        return 0
    return (body[-1].end_lineno or body[-1].lineno) - body[0].lineno + 1


def _is_exception(node: ast.ClassDef) -> bool:
    names = [ast.unparse(base) for base in node.bases]
    return any(n.endswith(("Error", "Exception")) or n in {"TechcalError"} for n in names) or (
        node.name.endswith("Error")
    )


def import_cycles(root: Path = ROOT) -> list[list[str]]:
    """Return the groups of modules that import each other, in functions too.

    The graph is grimp's (import-linter's library), built in a child process
    that sees the checkout at ``root`` as ``techcal``, whatever is installed.
    """
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "techcal").symlink_to(root)
        done = subprocess.run(
            [sys.executable, "-c", _CYCLES],
            env={**os.environ, "PYTHONPATH": tmp},
            cwd=tmp,
            capture_output=True,
            text=True,
            check=True,
        )
    return json.loads(done.stdout)


# two modules are in one cycle when each reaches the other
_CYCLES = """
import json, grimp
graph = grimp.build_graph("techcal", cache_dir=None)
groups, seen = [], set()
for name in sorted(graph.modules):
    if name in seen:
        continue
    importers = graph.find_downstream_modules(name)
    group = [m for m in importers if name in graph.find_downstream_modules(m)]
    if group:
        groups.append(sorted([name, *group]))
        seen.update(group)
print(json.dumps(groups))
"""
