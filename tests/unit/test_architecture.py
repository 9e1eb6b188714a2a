"""The package map of docs/architecture.md, held to the source: imports point one way.

The graph is built from the source with ``ast`` (every import statement counts, also one
inside a function or under ``TYPE_CHECKING``): a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "plugin" / "oplguard"

# docs/architecture.md, "Module map": a package may import its own layer's packages (no
# cycle) and the layers below it, never a layer above it.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"__main__", "cli", "commands"}),
    frozenset({"server", "policyd", "web"}),
    frozenset({"policy", "mail", "lists", "tracking", "removals", "control", "observability"}),
    frozenset(
        {"storage", "spamd", "config", "errors", "exits", "levelnames", "netparse", "ipaddr"}
        | {"headerend", "progress", "textsafe"}
    ),
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(path: Path) -> Iterator[str]:
    """Every ``oplguard...`` module that ``path`` imports, relative imports resolved."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            yield name
            # ``from oplguard import config`` imports the package config.
            yield from (f"{name}.{alias.name}" for alias in node.names)


def _package_of(module: str) -> str | None:
    """``oplguard.storage.db`` -> ``storage``; a top-level module is its own package."""
    parts = module.split(".")
    if parts[0] != "oplguard" or len(parts) < 2:
        return None
    name = parts[1]
    is_package = (PACKAGE / name).is_dir()
    return name if is_package or (PACKAGE / f"{name}.py").exists() else None


def package_graph() -> dict[str, set[str]]:
    """Package -> the other packages it imports."""
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "__init__.py":
            continue  # the version string only
        source = _package_of(_module_name(path))
        assert source is not None, path
        targets = graph.setdefault(source, set())
        for name in _imported(path):
            target = _package_of(name)
            if target is not None and target != source:
                targets.add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_lazy_and_relative_imports() -> None:
    graph = package_graph()
    assert "config" in graph["server"]
    # commands/serve.py imports the server inside run(), to start quickly.
    assert "server" in graph["commands"]


def test_no_package_import_cycle() -> None:
    graph = package_graph()
    assert cycles(graph) == [], {name: sorted(graph[name]) for name in sorted(graph)}


def _layer(package: str) -> int:
    for number, members in enumerate(LAYERS):
        if package in members:
            return number
    raise AssertionError(f"{package} is in no layer: add it to LAYERS and docs/architecture.md")


def test_imports_point_down_the_layers() -> None:
    upward = [
        f"{source} -> {target}"
        for source, targets in sorted(package_graph().items())
        for target in sorted(targets)
        if _layer(target) < _layer(source)
    ]
    assert upward == []


SPEC = PACKAGE.parents[1] / "docs" / "spec"
CITATION = re.compile(r"([\w-]+\.md) §(\d+)")


def _sources() -> Iterator[Path]:
    root = PACKAGE.parents[1]
    for folder in ("plugin", "tests", "bench"):
        yield from sorted((root / folder).rglob("*.py"))


def test_spec_citations_name_a_section_of_a_document_in_docs_spec() -> None:
    sections = {
        doc.name: set(re.findall(r"^## (\d+)\.", doc.read_text(), re.MULTILINE))
        for doc in SPEC.glob("*.md")
    }
    wrong = []
    for path in _sources():
        text = path.read_text()
        wrong += [f"{path.name}: bare {m.group()}" for m in re.finditer(r"\bspec §\d+", text)]
        for doc, number in CITATION.findall(text):
            if number not in sections.get(doc, set()):
                wrong.append(f"{path.name}: {doc} §{number}")
    assert wrong == []


def test_the_map_in_docs_names_every_package_and_only_modules_that_exist() -> None:
    text = (PACKAGE.parents[1] / "docs" / "architecture.md").read_text()
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    packages |= {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    assert set().union(*LAYERS) >= packages
    missing = [name for name in sorted(packages) if f"`{name}" not in text]
    assert missing == []
    cited = re.findall(r"`((?:[a-z_]+/)*[a-z_]+\.py)`", text)
    root = PACKAGE.parents[1]
    modules = {p.name for p in PACKAGE.rglob("*.py")}  # a table row names a module by itself
    gone = [
        path
        for path in cited
        if not (PACKAGE / path).exists() and not (root / path).exists() and path not in modules
    ]
    assert cited and gone == []


def test_no_module_outside_the_command_line_imports_it() -> None:
    """The web app, the services and the libraries never import a CLI module."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if _package_of(_module_name(path)) in LAYERS[0] or path == PACKAGE / "__init__.py":
            continue
        cli = [n for n in _imported(path) if _package_of(n) in LAYERS[0]]
        offenders += [f"{path.relative_to(PACKAGE)} imports {name}" for name in cli]
    assert offenders == []


def test_each_subcommand_module_registers_and_runs() -> None:
    from oplguard import cli

    modules = {p.stem for p in (PACKAGE / "commands").glob("*.py")}
    assembled = {module.__name__.rpartition(".")[2] for module in cli.COMMANDS}
    # arguments, asking and loading are what several subcommands share.
    assert modules - assembled == {"__init__", "arguments", "asking", "loading"}
    for module in cli.COMMANDS:
        assert callable(module.register) and callable(module.run), module.__name__


def test_package_init_files_re_export_nothing() -> None:
    """A name is imported from the module that defines it, never through a package."""
    exporting = []
    for init in sorted(PACKAGE.rglob("__init__.py")):
        tree = ast.parse(init.read_text(), str(init))
        names = [
            f"{init.relative_to(PACKAGE)}: line {node.lineno}"
            for node in tree.body
            if isinstance(node, ast.Import | ast.ImportFrom)
            and not (isinstance(node, ast.ImportFrom) and node.module == "__future__")
        ]
        exporting += names
    assert exporting == []


def _foreign_imports(path: Path) -> Iterator[str]:
    """``from oplguard.x import Name`` where Name is a class or function defined elsewhere."""
    import importlib
    import inspect

    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.ImportFrom) or node.level or node.module is None:
            continue
        if not node.module.startswith("oplguard."):
            continue
        module = importlib.import_module(node.module)
        for alias in node.names:
            value = getattr(module, alias.name, None)
            if not (inspect.isclass(value) or inspect.isfunction(value)):
                continue  # a module, a constant or a type alias
            home = value.__module__
            if home.startswith("oplguard") and home != node.module:
                yield f"{path.name}:{node.lineno} {alias.name} from {node.module}, not {home}"


def test_classes_and_functions_are_imported_from_their_defining_module() -> None:
    offenders = [line for path in _sources() for line in _foreign_imports(path)]
    assert offenders == []


def test_the_defining_module_check_sees_a_re_export(tmp_path: Path) -> None:
    source = tmp_path / "reexport.py"
    # lists.store imports ListError from errors for its own use.
    source.write_text("from oplguard.lists.store import ListError\n")
    assert list(_foreign_imports(source)) == [
        "reexport.py:1 ListError from oplguard.lists.store, not oplguard.errors"
    ]
