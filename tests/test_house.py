"""The house rules that keep the joints clean, read from the source (fast: no training, no imports
of TensorFlow): no import cycle, no stored key spelled outside hpo.keys, the environment read only
by the CLIs, private APIs only behind hpo.adapters, and every registry entry resolvable."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from hpo import keys, registry

PACKAGE = Path(__file__).resolve().parents[1] / "hpo"
REPO = PACKAGE.parent


def modules(package: Path = PACKAGE) -> dict[str, Path]:
    """A package's modules by dotted name (a package by its own name); hpo's by default."""
    found = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def import_graph(found: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the hpo modules it imports, wherever the import statement is (a lazy import inside
    a function is an edge too: it hides a cycle, it does not break one). `from pkg import mod`
    counts as an edge to the submodule `pkg.mod`."""
    graph = {name: set() for name in found}
    for name, path in found.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.append(sub if sub in found else base)
            for target in targets:
                while target and target not in found:  # hpo.x.Name -> hpo.x
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_hpo_has_no_import_cycle():
    found = modules()
    assert {"hpo.screen", "hpo.optimize.worker", "hpo.registry"} <= set(found)
    assert cycles(import_graph(found)) == []


def test_the_cycle_check_finds_a_cycle_and_a_lazy_one(tmp_path):
    """The check can fail: a cycle closed only by imports inside functions is found, by the same
    steps the real check takes (modules, import_graph, cycles) on a small bad package."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    bad = tmp_path / "pkg"
    (bad / "sub").mkdir(parents=True)
    (bad / "__init__.py").write_text("")
    (bad / "sub" / "__init__.py").write_text("")
    (bad / "a.py").write_text("from pkg import b\n\nVALUE = b.VALUE\n")
    # b imports a only when called: the cycle a -> b -> a hides in a function.
    (bad / "b.py").write_text(
        "VALUE = 1\n\n\ndef f():\n    from pkg.a import VALUE\n\n    return VALUE\n"
    )
    # c and sub.d: the same lazily, relative, from a method: c -> sub.d -> c.
    (bad / "c.py").write_text("from .sub import d\n")
    (bad / "sub" / "d.py").write_text(
        "class D:\n    def g(self):\n        from ..c import d\n\n        return d\n"
    )
    found = modules(bad)
    assert set(found) == {"pkg", "pkg.a", "pkg.b", "pkg.c", "pkg.sub", "pkg.sub.d"}
    graph = import_graph(found)
    assert graph["pkg.b"] == {"pkg.a"} and graph["pkg.sub.d"] == {"pkg.c"}  # the lazy edges
    assert sorted(cycles(graph)) == [["pkg.a", "pkg.b"], ["pkg.c", "pkg.sub.d"]]


def test_the_registry_and_keys_are_leaves():
    graph = import_graph(modules())
    assert graph["hpo.keys"] == set()
    assert graph["hpo.registry"] <= {"hpo.errors"}  # implementations are named, not imported


STORED_KEYS = {
    value for name, value in vars(keys).items() if name.isupper() and isinstance(value, str)
}


def bare_key_uses(tree: ast.AST) -> list[tuple[int, str]]:
    """Where a stored key is written as a string literal: `set_user_attr("x", ...)`,
    `user_attrs["x"]`, `user_attrs.get("x")`, `attrs["x"]`, `attrs.get("x")`,
    `user_attrs={"x": ...}`."""
    uses = []

    def literal(node) -> str | None:
        return (
            node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None
        )

    def names_attrs(node) -> bool:
        return (isinstance(node, ast.Attribute) and node.attr == "user_attrs") or (
            isinstance(node, ast.Name) and node.id in {"attrs", "user_attrs"}
        )

    for node in ast.walk(tree):
        key = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if (node.func.attr == "set_user_attr" and node.args) or (
                node.func.attr == "get" and names_attrs(node.func.value) and node.args
            ):
                key = literal(node.args[0])
            for keyword in node.keywords:
                if keyword.arg == "user_attrs" and isinstance(keyword.value, ast.Dict):
                    uses += [
                        (node.lineno, k)
                        for k in map(literal, keyword.value.keys)
                        if k in STORED_KEYS
                    ]
        elif isinstance(node, ast.Subscript) and names_attrs(node.value):
            key = literal(node.slice)
        if key in STORED_KEYS:
            uses.append((node.lineno, key))
    return uses


def test_no_stored_key_is_spelled_outside_hpo_keys():
    spelled = {
        f"{path.relative_to(REPO)}:{line}: {key!r}"
        for path in [*PACKAGE.rglob("*.py"), *(REPO / "bench").glob("*.py")]
        for line, key in bare_key_uses(ast.parse(path.read_text()))
    }
    assert not spelled, "use hpo.keys' constants:\n" + "\n".join(sorted(spelled))


def test_the_key_check_finds_bare_keys():
    code = (
        'study.set_user_attr("ranking", r)\nx = trial.user_attrs["failure"]\n'
        'y = attrs.get("n_params")\nstudy.enqueue_trial(p, user_attrs={"from_screen": 1})\n'
        "z = study.user_attrs[keys.RANKING]\n"
    )
    assert [key for _, key in bare_key_uses(ast.parse(code))] == [
        "ranking",
        "failure",
        "n_params",
        "from_screen",
    ]


def test_only_the_clis_name_hpo_home_and_hpo_storage():
    """The library takes a Workspace and a URL; hpo.cli alone reads $HPO_HOME and $HPO_STORAGE."""
    naming = {
        str(path.relative_to(REPO))
        for path in [*PACKAGE.rglob("*.py"), *(REPO / "bench").glob("*.py")]
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and node.value in ("HPO_HOME", "HPO_STORAGE")
    }
    assert naming == {"hpo/cli.py"}


PRIVATE = ("._storage", "._trial_id", "keras_tuner.src", "._n_startup_trials")  # see hpo.adapters


def test_private_apis_are_used_only_in_hpo_adapters():
    users = {
        f"{path.relative_to(REPO)}: {marker}"
        for path in [
            *PACKAGE.rglob("*.py"),
            *(REPO / "bench").glob("*.py"),
            *(REPO / "tests").glob("*.py"),
        ]
        if "adapters" not in path.parts and path.name not in ("test_house.py", "test_adapters.py")
        for marker in PRIVATE
        if marker in path.read_text()
    }
    assert not users, users


@pytest.mark.parametrize(
    "choices",
    [
        registry.SAMPLERS,
        registry.PRUNERS,
        registry.TUNERS,
        registry.ENGINES,
        registry.PRESETS,
        registry.LOSSES,
        registry.METRICS,
    ],
    ids=lambda r: r.flag,
)
def test_every_registry_entry_resolves_to_a_callable(choices):
    for name in choices.names():
        assert callable(choices.get(name)), name
    for old, new in choices.aliases.items():
        assert choices.check(old) == new


def test_an_unknown_choice_names_the_flag_and_the_choices():
    from hpo.errors import ConfigError

    with pytest.raises(
        ConfigError,
        match=r"^--pruner must be one of median, hyperband, sha, none, "
        r"but got 'nope'$",
    ):
        registry.PRUNERS.check("nope")


def test_no_test_module_imports_another():
    """Shared code lives in conftest.py (fixtures) and helpers.py, postgres.py, services.py."""
    tests = Path(__file__).parent
    test_modules = {path.stem for path in tests.glob("test_*.py")} | {"conftest"}
    importing = {
        f"{path.name} imports {name}"
        for path in tests.glob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for name in (
            [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        )
        if name.split(".")[0] in test_modules
    }
    assert not importing, importing
