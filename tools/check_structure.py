"""Structure checks on the package as installed: import-linter contracts and mypy.

The stage folders (``ingest/``, ``graph/``, ...) become ``evokegraph.ingest``,
``evokegraph.graph``, ... only through setuptools ``package-dir``; static tools
(grimp/import-linter, mypy) cannot follow the editable install's import hook.
So this script installs a real, non-editable copy of the package into
``build/lint`` (``pip install --no-deps --no-build-isolation --target``), checks
that copy, and maps every mypy path back to the repository file it came from.

    python tools/check_structure.py            # install the copy, lint-imports, mypy
    python tools/check_structure.py --no-install   # reuse build/lint as it is

Exit status 1 when a contract is broken or mypy reports an error.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path("build") / "lint"
PACKAGE = "evokegraph"


def package_dirs(pyproject: Path) -> dict[str, str]:
    """``{"evokegraph.ingest": "ingest", ...}`` from ``[tool.setuptools] package-dir``."""
    config = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    mapping = config.get("tool", {}).get("setuptools", {}).get("package-dir", {})
    return {str(k): str(v) for k, v in mapping.items()}


def path_prefixes(mapping: Mapping[str, str], target: str) -> list[tuple[str, str]]:
    """Installed-path prefix -> repository-path prefix, longest first."""
    pairs = [
        (f"{target}/{package.replace('.', '/')}/", f"{folder.rstrip('/')}/")
        for package, folder in mapping.items()
    ]
    return sorted(pairs, key=lambda pair: len(pair[0]), reverse=True)


def map_line(line: str, prefixes: list[tuple[str, str]]) -> str:
    """Rewrite a tool's output line that starts with an installed path to the repo path."""
    for installed, repo in prefixes:
        if line.startswith(installed):
            return repo + line[len(installed) :]
    return line


def install_copy(python: str, target: Path) -> None:
    """A fresh installed copy in ``target``. setuptools builds through build/lib and
    never deletes from it, so a module removed from the tree would linger there and
    be installed again: both go first."""
    shutil.rmtree(ROOT / target, ignore_errors=True)
    shutil.rmtree(ROOT / "build" / "lib", ignore_errors=True)
    for stale in (ROOT / "build").glob("bdist.*"):
        shutil.rmtree(stale, ignore_errors=True)
    subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--no-compile",
            "--target",
            str(target),
            ".",
        ],
        cwd=ROOT,
        check=True,
    )


def tool(name: str) -> str:
    """The console script next to this interpreter (the venv's), else on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else name


def run_import_linter(target: Path) -> int:
    # lint-imports puts its working directory first on sys.path: run it inside the
    # installed copy so that `evokegraph` is the copy, not the repo's evokegraph/ folder.
    print("== import-linter (contracts in pyproject.toml [tool.importlinter])", flush=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT / target)}
    return subprocess.run(
        [tool("lint-imports"), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=ROOT / target,
        env=env,
    ).returncode


def run_mypy(target: Path, prefixes: list[tuple[str, str]]) -> int:
    print(f"== mypy -p {PACKAGE} (paths mapped back to the repository)", flush=True)
    env = {**os.environ, "MYPYPATH": str(target)}
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "-p", PACKAGE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    for line in (proc.stdout + proc.stderr).splitlines():
        print(map_line(line, prefixes))
    return proc.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-install", action="store_true", help="reuse build/lint as it is")
    parser.add_argument("--skip", choices=["imports", "mypy"], action="append", default=[])
    args = parser.parse_args(argv)
    if not args.no_install or not (ROOT / TARGET / PACKAGE).is_dir():
        install_copy(sys.executable, TARGET)
    prefixes = path_prefixes(package_dirs(ROOT / "pyproject.toml"), TARGET.as_posix())
    failed = []
    if "imports" not in args.skip and run_import_linter(TARGET) != 0:
        failed.append("import contracts")
    if "mypy" not in args.skip and run_mypy(TARGET, prefixes) != 0:
        failed.append("mypy")
    if failed:
        print(f"check failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
