"""The tree is the architecture: layers that import only downward, no cycles, no module over ~400 lines.

Every import counts, including those inside functions (a lazy import is still a dependency). The layers,
bottom first; a module may import its own layer and those below:
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 400

# Bottom first. A module's layer is the first prefix it matches.
LAYERS: list[tuple[str, ...]] = [
    ("rag.errors", "rag.settings"),
    ("rag.text",),
    ("rag.types",),
    ("rag.corpus",),
    ("rag.index",),
    ("rag.ingest",),
    ("rag.retrieve",),
    ("rag.answer",),
    ("rag.adapters",),
    ("rag.feedback",),  # feedback on answers, kept on this machine; into evaluation questions (rag feedback)
    ("rag.feeds",),  # live paper feeds (Hugging Face daily papers, arXiv) into the ingest; Assistant.sync
    ("rag.assistant", "rag"),
    ("rag.evaluation",),
    ("rag.serve",),  # the OpenAI-compatible endpoint and the MCP server, over Assistant; started by the CLI
    ("rag.cli", "ui"),
]
# The CLI starts the web chat: its entry point is the one place that may reach into ui/.
ALLOWED_UPWARD = {("rag.cli.servers", "ui.app")}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def sources() -> dict[str, Path]:
    return {module_name(p): p for base in ("rag", "ui") for p in sorted((ROOT / base).rglob("*.py"))}


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules ``name`` imports (anywhere in the file), resolved to the modules that exist."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    files = sources()
    known = set(files)
    edges = {name: imports(name, path, known) for name, path in files.items()}
    # `from rag.x import y` where y is a submodule already resolved to rag.x.y; a bare `import rag.x.y`
    # also names its packages, which is not a dependency on them.
    return edges


def layer(name: str) -> int:
    best = None
    for rank, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if name == prefix or name.startswith(prefix + "."):
                if best is None or len(prefix) > best[1]:
                    best = (rank, len(prefix))
    assert best is not None, f"{name} belongs to no layer: add it to LAYERS in {__file__}"
    return best[0]


def test_every_import_goes_down_the_layers():
    wrong = []
    for name, targets in graph().items():
        for target in targets:
            if layer(target) > layer(name) and (name, target) not in ALLOWED_UPWARD:
                wrong.append(f"{name} (layer {layer(name)}) imports {target} (layer {layer(target)})")
    assert not wrong, "\n".join(sorted(wrong))


def test_no_import_cycles():
    edges = graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    # A package's __init__ re-exporting its own modules is not a cycle of concerns.
    real = [c for c in cycles if not all(a.startswith(c[0]) or c[0].startswith(a) for a in c)]
    assert not real, "\n".join(" -> ".join(c) for c in real)


@pytest.mark.parametrize("path", sorted(sources().values()), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_over_400_lines(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines: split it by concern"


def test_the_layer_checker_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "probe.py"
    module.write_text("def f():\n    from rag.assistant import Assistant\n", encoding="utf-8")
    assert imports("rag.text.probe", module, {"rag.assistant", "rag"}) == {"rag.assistant"}
