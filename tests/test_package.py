"""The shape of the package: no import cycle, the library never imports the book, one check per input."""

import ast
import importlib
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "bonelib"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module → the bonelib modules it imports, at module level or inside its functions."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                # `from package import submodule` imports the submodule; `from module import name`
                # the module. (A submodule's own package is always being imported already.)
                targets = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules
                           else node.module for alias in node.names]
            else:
                continue
            imported |= {t for t in targets if t in modules and t != name}
        graph[name] = imported
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = 2
        path.pop()
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_bonelib_has_no_import_cycle():
    graph = import_graph()
    assert "bonelib.imaging.voi" in graph and "bonelib.constants" in graph["bonelib.imaging.voi"]
    # a package's __init__ re-exports its submodules: a submodule that takes a name from its
    # own package's __init__ closes a cycle, and this test finds it
    assert find_cycle(graph) is None, find_cycle(graph)


def imported_top_levels(path: Path) -> set[str]:
    """The top-level packages a module imports, at module level or inside its functions."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_the_library_never_imports_the_book_or_its_drawing():
    """bonelib is the science; the book's settings, pipeline, figures (plotly) and notebook display
    (IPython) live in bonebook, which imports bonelib and never the other way round."""
    book_only = {"bonebook", "plotly", "IPython", "papermill", "jupytext"}
    found = {module_name(p): imported_top_levels(p) & book_only for p in PACKAGE.rglob("*.py")}
    assert {name: sorted(names) for name, names in found.items() if names} == {}
    assert "bonelib" in imported_top_levels(PACKAGE.parent / "bonebook" / "studies.py")
    assert imported_top_levels(PACKAGE.parent / "bonebook" / "viz.py") >= {"IPython"}


def test_no_module_imports_a_private_name_of_another():
    """A module's private names are its own; what other modules need is public (the package's
    private helper modules, ``bonelib._files`` and the like, are the package's own)."""
    found = []
    for path in [*PACKAGE.rglob("*.py"), *(PACKAGE.parent / "bonebook").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ("bonelib", "bonebook"):
                if node.module.split(".")[-1].startswith("_"):
                    continue
                found += [f"{path.name}: {node.module}.{a.name}" for a in node.names
                          if a.name.startswith("_") and not a.name.startswith("__")]
    assert found == []


def test_label_checks_its_input_once():
    """The grey image is checked at label() and not again on the way to the solver."""
    import bonelib._checks
    from bonelib.imaging import density, scanner
    from bonelib.morphometry import planar as morphometry
    from bonelib.slices import label
    fe_materials = importlib.import_module("bonelib.fe.materials")

    calls = []

    def counting(values, name, **kwargs):
        calls.append(name)
        return bonelib._checks.finite_array(values, name, **kwargs)

    grey = np.random.default_rng(0).integers(900, 2200, (24, 24))
    patches = [mock.patch.object(module, "finite_array", counting)
               for module in (label, density, morphometry, fe_materials)]
    for patch in patches:
        patch.start()
    try:
        label.label(grey, scanner.CALIBRATION)
        assert calls == ["grey"]
        calls.clear()
        label.slice_record(grey, scanner.CALIBRATION)
        assert calls == ["grey"]
    finally:
        for patch in patches:
            patch.stop()
    with pytest.raises(ValueError, match="NaN"):
        label.label(np.full((8, 8), np.nan), scanner.CALIBRATION)
    with pytest.raises(ValueError, match="2 × 2"):
        label.label(np.ones((1, 8)), scanner.CALIBRATION)
    with pytest.raises(ValueError, match="Calibration"):
        label.label(grey, (0.5, -300))


@pytest.mark.parametrize("given, expected", [(None, "1"), ("0", "0")])
def test_importing_bonelib_turns_onednn_on_unless_the_user_chose(given, expected):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    if given is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = given
    out = subprocess.run([sys.executable, "-c", "import os, bonelib; print(os.environ['TF_ENABLE_ONEDNN_OPTS'])"],
                         env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == expected
