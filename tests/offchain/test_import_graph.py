"""The import structure of keepers/ (issue 47), read from the sources with ``ast``: no import
circle, no slice importing another slice, no module touching another module's private name.

What counts as an import: every ``import``/``from ... import`` anywhere in a module, at the top
or inside a function (a function-level import is still a dependency; it only delays the
failure of a circle to the first call). ``from keepers.a import b`` is an edge to
``keepers.a.b`` when that is a module, else to ``keepers.a``.

Imports under ``if TYPE_CHECKING:`` count too, in a graph of their own: they never run, so
they cannot make an import fail, but a module that names another's type depends on it all the
same (it cannot be read or changed without it), and ``TYPE_CHECKING`` is how a circle is
hidden rather than removed. The runtime graph must have no circle; the graph with the
type-only edges must have none beyond ``KNOWN_TYPE_ONLY_CIRCLES``, which is compared for
equality, so removing a circle fails here until it is struck off the list."""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KEEPERS = ROOT / "keepers"
SLICES = ("fund", "automation", "crosschain", "portfolio")

# Circles that exist only through ``if TYPE_CHECKING:`` imports, each as its sorted modules
# (none left: issue 47's "stages as values" gave the sizing, approval and execution stages
# their services, and none of them imports the bot).
KNOWN_TYPE_ONLY_CIRCLES: set[tuple[str, ...]] = set()

# Reaches into another module's private names that are known, compared for equality as above
# (none left: issue 47 made the fund bot's alert services public, the stages' way to them).
KNOWN_PRIVATE_REACH: set[str] = set()

# Private attributes of third-party objects held in a local name, with no public way to the
# same thing (no keepers module defines them: checked below).
FOREIGN_PRIVATE = {
    "_jobstores": "APScheduler has no public listing of its job stores' aliases",
    "_encode_transaction_data": "web3's contract function encodes its call data only so",
    "_request_session_manager": (
        "web3's HTTPProvider takes one session for every thread; a session per thread without "
        "requests' per-call environment lookup is set only so (keepers.tx.node)"
    ),
}


@dataclass
class Module:
    name: str
    path: Path
    tree: ast.Module
    imports: dict[str, list[int]] = field(default_factory=dict)  # module -> lines (runtime)
    type_imports: dict[str, list[int]] = field(default_factory=dict)  # TYPE_CHECKING only
    # local name -> the keepers module it comes from (a module, or a name imported from one)
    bound: dict[str, str] = field(default_factory=dict)
    foreign: set[str] = field(default_factory=set)  # local names of non-keepers modules (os)
    private_from: list[tuple[int, str, str]] = field(default_factory=list)  # line, module, name


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _modules(keepers: Path = KEEPERS) -> dict[str, Module]:
    found: dict[str, tuple[Path, bool]] = {}
    for path in sorted(keepers.rglob("*.py")):
        parts = list(path.relative_to(keepers.parent).with_suffix("").parts)
        package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if package else parts)] = (path, package)

    def resolve(name: str) -> str | None:
        while name and name not in found:
            name = name.rpartition(".")[0]
        return name or None

    mods: dict[str, Module] = {}
    for name, (path, package) in found.items():
        mod = Module(name, path, ast.parse(path.read_text(), str(path)))
        here = name if package else name.rpartition(".")[0]
        type_only: set[int] = set()
        for node in ast.walk(mod.tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                type_only |= {id(x) for stmt in node.body for x in ast.walk(stmt)}
        for node in ast.walk(mod.tree):
            targets: list[tuple[str, str | None, str]] = []  # (target, bound name, imported)
            if isinstance(node, ast.Import):
                for a in node.names:
                    targets.append((a.name, a.asname or a.name.split(".")[0], ""))
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = here.split(".")[: len(here.split(".")) - (node.level - 1)]
                    base = ".".join(up + ([base] if base else []))
                for a in node.names:
                    targets.append((f"{base}.{a.name}", a.asname or a.name, a.name))
            for target, local, imported in targets:
                if not target.startswith("keepers"):
                    if isinstance(node, ast.Import) and local:
                        mod.foreign.add(local)
                    continue
                dep = resolve(target)
                if dep is None or dep == name:
                    continue
                edges = mod.type_imports if id(node) in type_only else mod.imports
                edges.setdefault(dep, []).append(node.lineno)
                if local and local != "keepers":
                    mod.bound[local] = dep
                if imported and _is_private(imported):
                    mod.private_from.append((node.lineno, dep, imported))
        mods[name] = mod
    return mods


class _Parsed(Mapping[str, Module]):
    """``_modules()``, parsed when a test first reads it rather than when the file is
    imported: every xdist worker imports every test file to collect it, and the parse took
    1.3 s of CPU in each."""

    @cached_property
    def _parsed(self) -> dict[str, Module]:
        return _modules()

    def __getitem__(self, name: str) -> Module:
        return self._parsed[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._parsed)

    def __len__(self) -> int:
        return len(self._parsed)


MODULES = _Parsed()


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = itertools.count()

    def visit(v: str) -> None:
        index[v] = low[v] = next(counter)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _cycle_path(graph: dict[str, set[str]], members: list[str]) -> str:
    """One circle through the component's first module, as ``a -> b -> a`` with the lines."""
    inside = set(members)
    start = members[0]
    paths = {start: [start]}
    todo = [start]
    while todo:
        v = todo.pop(0)
        for w in sorted(graph[v] & inside):
            if w == start:
                path = paths[v] + [start]
                return (
                    " -> ".join(f"{a} (line {_line(a, b)})" for a, b in itertools.pairwise(path))
                    + f" -> {start}"
                )
            if w not in paths:
                paths[w] = paths[v] + [w]
                todo.append(w)
    return " <-> ".join(members)


def _line(a: str, b: str) -> int:
    m = MODULES[a]
    return (m.imports.get(b) or m.type_imports.get(b) or [0])[0]


def _runtime_graph() -> dict[str, set[str]]:
    return {n: set(m.imports) for n, m in MODULES.items()}


def _whole_graph() -> dict[str, set[str]]:
    return {n: set(m.imports) | set(m.type_imports) for n, m in MODULES.items()}


def test_graph__sees_every_module_and_imports_inside_functions(tmp_path: Path):
    """The walk finds the modules and the edges the checks below rely on: a function-level
    import (keepers.cli imports keepers.fund.cli inside _add_slices) and a TYPE_CHECKING one
    (none is left in keepers/: shown on a package made here)."""
    assert len(MODULES) > 100
    assert "keepers.fund.cli" in MODULES["keepers.cli"].imports
    pkg = tmp_path / "keepers"
    (pkg / "fund").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "fund" / "__init__.py").write_text("")
    (pkg / "fund" / "bot.py").write_text("from keepers.fund.stage import Stage\n")
    (pkg / "fund" / "stage.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from keepers.fund.bot import Bot\n"
    )
    made = _modules(pkg)
    assert made["keepers.fund.stage"].type_imports == {"keepers.fund.bot": [3]}
    assert made["keepers.fund.stage"].imports == {}
    assert made["keepers.fund.bot"].imports == {"keepers.fund.stage": [1]}
    # the circle finder finds a circle it is handed
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_keepers__no_import_circle_at_run_time():
    graph = _runtime_graph()
    assert [_cycle_path(graph, c) for c in _circles(graph)] == []


def test_keepers__no_import_circle_with_type_only_imports_beyond_the_known():
    graph = _whole_graph()
    circles = {tuple(c) for c in _circles(graph)}
    new = [_cycle_path(graph, list(c)) for c in sorted(circles - KNOWN_TYPE_ONLY_CIRCLES)]
    assert new == [], "import circle through TYPE_CHECKING imports"
    gone = sorted(KNOWN_TYPE_ONLY_CIRCLES - circles)
    assert gone == [], "a known circle is gone: strike it off KNOWN_TYPE_ONLY_CIRCLES"


def _slice(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in SLICES else None


def test_slices__import_no_other_slice():
    """keepers/fund, automation, crosschain and portfolio are independent: what needs two of
    them (keeper run's bots, keeper status's automation part) is in a composition root
    (keepers.cli, keepers.registry)."""
    offenders = [
        f"{n} (line {lines[0]}) imports {dep}"
        for n, m in MODULES.items()
        for dep, lines in {**m.imports, **m.type_imports}.items()
        if _slice(n) and _slice(dep) and _slice(dep) != _slice(n)
    ]
    assert offenders == []


def _private_uses(mod: Module) -> list[str]:
    found = [f"line {ln}: imports {name} from {dep}" for ln, dep, name in mod.private_from]
    for node in ast.walk(mod.tree):
        if not (isinstance(node, ast.Attribute) and _is_private(node.attr)):
            continue
        recv = node.value
        if isinstance(recv, ast.Name):
            if recv.id in ("self", "cls"):
                continue
            if recv.id in mod.bound:  # a keepers module, or a name imported from one
                found.append(f"line {node.lineno}: {recv.id}.{node.attr} of {mod.bound[recv.id]}")
                continue
            if recv.id in mod.foreign:
                continue  # a third-party module's name (os._exit): not keepers' to keep
            if node.attr in FOREIGN_PRIVATE:
                continue
            if _defined_here(mod, node.attr):
                continue  # another instance of a class of this module
        found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def _defined_here(mod: Module, attr: str) -> bool:
    """``attr`` is assigned on ``self`` or defined in a class body of this very module."""
    for node in ast.walk(mod.tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr == attr
            and isinstance(node.value, ast.Name)
            and node.value.id in ("self", "cls")
        ):
            return True
        if isinstance(node, ast.ClassDef):
            for stmt in node.body:
                if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef) and stmt.name == attr:
                    return True
                if isinstance(stmt, ast.AnnAssign | ast.Assign):
                    names = [stmt.target] if isinstance(stmt, ast.AnnAssign) else stmt.targets
                    if any(isinstance(t, ast.Name) and t.id == attr for t in names):
                        return True
    return False


def test_modules__touch_no_private_name_of_another_module():
    """A ``_name`` is its module's own: no ``from keepers.x import _y``, no ``x._y`` on a
    keepers module or a name imported from one (``Node._rpc_tx``), and no ``a.b._y`` reaching
    through an object (``self.bot._clear_alert``). A local name's private attribute is allowed
    when this module defines it (another instance of its own class), is a third-party module's
    (``os._exit``) or is listed in FOREIGN_PRIVATE (a third-party object's)."""
    found = [f"{n} {use}" for n, m in MODULES.items() for use in _private_uses(m)]
    known = {re.sub(r" line \d+:", ":", x) for x in found}
    assert [x for x in found if re.sub(r" line \d+:", ":", x) not in KNOWN_PRIVATE_REACH] == []
    assert sorted(KNOWN_PRIVATE_REACH - known) == [], "strike it off KNOWN_PRIVATE_REACH"
    defined = sorted(
        f"{n} defines {a}"
        for n, m in MODULES.items()
        for a in FOREIGN_PRIVATE
        if _defined_here(m, a)
    )
    assert defined == [], "FOREIGN_PRIVATE is for third-party names only"


def test_private_check__catches_each_kind():
    """The checks above can fail: a module with each kind of reach is caught."""
    src = (
        "from keepers.tx.node import Node, _hidden\n"
        "import keepers.fund.bot as fb\n"
        "def f(self, x):\n"
        "    Node._rpc_tx()\n"
        "    fb._private()\n"
        "    self.bot._clear_alert()\n"
        "    x._other\n"
    )
    tree = ast.parse(src)
    mod = Module("keepers.example", KEEPERS / "example.py", tree)
    mod.bound = {"Node": "keepers.tx.node", "_hidden": "keepers.tx.node", "fb": "keepers.fund.bot"}
    mod.private_from = [(1, "keepers.tx.node", "_hidden")]
    uses = _private_uses(mod)
    assert len(uses) == 5, uses


# The fund's two faces: the command line's modules and the web console's. Both use the fund's
# service layer (keepers.fund.service); neither imports the other. keepers.console.cli is the
# console's own command, registered on the root group (keepers.cli_base), and only that.
CLI_FACE = {"keepers.cli", "keepers.cli_base", "keepers.fund.cli"}
CONSOLE_FACE = "keepers.console"
CONSOLE_COMMAND = "keepers.console.cli"


def _face_edges(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for name, deps in graph.items():
        console = name == CONSOLE_FACE or name.startswith(CONSOLE_FACE + ".")
        for dep in deps:
            if (
                console
                and dep in CLI_FACE
                and not (name == CONSOLE_COMMAND and dep == "keepers.cli_base")
            ):
                bad.append(f"{name} -> {dep}")
            if name == "keepers.fund.cli" and (
                dep == CONSOLE_FACE or dep.startswith(CONSOLE_FACE + ".")
            ):
                bad.append(f"{name} -> {dep}")
    return sorted(bad)


def test_faces__cli_and_console_share_the_fund_service__never_import_each_other():
    graph = _whole_graph()
    assert _face_edges(graph) == []
    # both faces reach the fund through the service layer
    assert "keepers.fund.service" in graph["keepers.fund.cli"]
    assert "keepers.fund.service" in graph["keepers.console.views"]
    assert "keepers.fund.service" in graph["keepers.console.server"]
    # and the check sees an import inside a function (the old shape: the console's pages
    # calling `from keepers.fund.cli import approval_view` in their functions)
    assert _face_edges({"keepers.console.views": {"keepers.fund.cli"}}) == [
        "keepers.console.views -> keepers.fund.cli"
    ]
