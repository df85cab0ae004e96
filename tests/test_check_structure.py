"""tools/check_structure.py: the installed copy it checks, and mypy paths mapped back."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "check_structure", ROOT / "tools" / "check_structure.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_map_line_rewrites_installed_paths_longest_prefix_first() -> None:
    tool = _tool()
    prefixes = tool.path_prefixes(
        {
            "evokegraph": "evokegraph",
            "evokegraph.ingest": "ingest",
            "evokegraph.ingest.x": "other/x",
        },
        "build/lint",
    )
    line = "build/lint/evokegraph/ingest/runner.py:12: error: boom  [misc]"
    assert tool.map_line(line, prefixes) == "ingest/runner.py:12: error: boom  [misc]"
    assert tool.map_line("build/lint/evokegraph/records.py:1: note: n", prefixes) == (
        "evokegraph/records.py:1: note: n"
    )
    assert (
        tool.map_line("build/lint/evokegraph/ingest/x/a.py:3: e", prefixes) == "other/x/a.py:3: e"
    )
    assert tool.map_line("Found 2 errors in 1 file", prefixes) == "Found 2 errors in 1 file"


def test_every_installed_module_maps_back_to_its_repository_file(tmp_path: Path) -> None:
    tool = _tool()
    target = tmp_path / "lint"
    tool.install_copy(sys.executable, target)
    prefixes = tool.path_prefixes(tool.package_dirs(ROOT / "pyproject.toml"), target.as_posix())
    installed = sorted((target / "evokegraph").rglob("*.py"))
    assert len(installed) > 50
    for path in installed:
        mapped = tool.map_line(path.as_posix(), prefixes)
        assert mapped != path.as_posix(), f"{path} has no package-dir mapping"
        source = ROOT / mapped
        assert source.is_file(), f"{path} maps to {mapped}, which does not exist"
        assert source.read_bytes() == path.read_bytes(), f"{mapped} differs from its installed copy"
