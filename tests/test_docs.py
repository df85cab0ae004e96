"""The documentation: the site builds strictly, the README stays a front door,
and every README/docs section a message or docstring names exists."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SOURCE_DIRS = [
    "evokegraph",
    "ingest",
    "graph",
    "captioning",
    "training",
    "queries",
    "bench",
    "tools",
]
# `(README: 'Section')`, `docs/page.md, "Section"`, `docs/page.md#anchor`
REF = re.compile(
    r"(README(?:\.md)?|docs/[\w.-]+\.md)(?:\s*[:,]\s*|\s+section\s+)['\"\u201c]([^'\"\u201d]+)['\"\u201d]"
)
ANCHOR = re.compile(r"(docs/[\w.-]+\.md)#([\w-]+)")


def _headings(path: Path) -> list[str]:
    out, fence = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            fence = not fence
        elif not fence and line.startswith("#"):
            out.append(line.lstrip("#").strip().replace("`", ""))
    return out


def _slug(heading: str) -> str:
    """MkDocs' toc slug: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\s-]", "", heading.lower())
    return re.sub(r"[\s]+", "-", text.strip())


def _sources() -> list[Path]:
    files = [ROOT / "Makefile"]
    for d in SOURCE_DIRS:
        files += sorted((ROOT / d).rglob("*.py"))
    return files


def named_sections() -> list[tuple[Path, str, str, str]]:
    """(source file, doc file, kind, name) for every section a source names."""
    found = []
    for src in _sources():
        text = src.read_text(encoding="utf-8")
        for m in REF.finditer(text):
            doc = "README.md" if m.group(1).startswith("README") else m.group(1)
            found.append((src, doc, "heading", m.group(2)))
        for m in ANCHOR.finditer(text):
            found.append((src, m.group(1), "anchor", m.group(2)))
    return found


def test_every_named_section_exists() -> None:
    refs = named_sections()
    assert refs, "no message names a docs section: the pattern is out of date"
    for src, doc, kind, name in refs:
        path = ROOT / doc
        assert path.is_file(), f"{src.relative_to(ROOT)} names {doc}, which does not exist"
        heads = _headings(path)
        if kind == "heading":
            assert any(h == name or h.startswith(name) for h in heads), (
                f"{src.relative_to(ROOT)} names section {name!r} of {doc}; headings: {heads}"
            )
        else:
            assert name in {_slug(h) for h in heads}, (
                f"{src.relative_to(ROOT)} links {doc}#{name}, which is no heading"
            )


def test_readme_is_a_front_door() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250
    for heading in ("Two commands", "A 30-second tour", "Features", "Python API", "Documentation"):
        assert f"\n## {heading}\n" in text, heading
    for link in re.findall(r"\]\((docs/[^)#]+)", text):
        assert (ROOT / link).exists(), f"README links {link}, which does not exist"


def test_docs_speak_of_the_product_not_the_workplace() -> None:
    pages = [README, *sorted((ROOT / "docs").glob("*.md")), ROOT / "Makefile"]
    for page in pages:
        text = page.read_text(encoding="utf-8").lower()
        for phrase in ("this workplace", "this machine"):
            assert phrase not in text, f"{page.relative_to(ROOT)} says {phrase!r}"


@pytest.mark.skipif(
    shutil.which("mkdocs", path=str(Path(sys.executable).parent)) is None,
    reason="mkdocs is not installed (pip install 'evokegraph[dev]')",
)
def test_mkdocs_build_strict(tmp_path: Path) -> None:
    mkdocs = Path(sys.executable).parent / "mkdocs"
    proc = subprocess.run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={
            "NO_MKDOCS_2_WARNING": "1",
            "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
        },
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    api = (tmp_path / "site" / "api" / "index.html").read_text(encoding="utf-8")
    assert "open_kb" in api and "write_sample" in api, "the API page has no docstrings"
    assert (tmp_path / "site" / "index.html").read_text(encoding="utf-8").count("Two commands") >= 1


FIGURES = re.compile(r"<!-- REPORT-ABSTRACTION -->\n(.*?)<!-- /REPORT-ABSTRACTION -->", re.S)


def documented_report() -> dict[int, tuple[int, float]]:
    """depth -> (captions, concreteness) from docs/captions.md's table."""
    m = FIGURES.search((ROOT / "docs" / "captions.md").read_text(encoding="utf-8"))
    assert m, "docs/captions.md lost its REPORT-ABSTRACTION table"
    rows = re.findall(r"^\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*([\d.]+)\s*\|", m.group(1), re.M)
    return {int(d): (int(n), float(c)) for d, n, c in rows}


@pytest.mark.slow
def test_the_main_job_runs_as_written_and_prints_the_documented_figures(tmp_path: Path) -> None:
    """The README's main job, line by line through the installed entry point, in
    a fresh folder; `report abstraction` must print docs/captions.md's table."""
    block = README.read_text(encoding="utf-8").split("<!-- MAIN-JOB -->", 1)[1]
    block = block.split("<!-- /MAIN-JOB -->", 1)[0]
    commands = [
        line.split("#", 1)[0].split()
        for line in block.splitlines()
        if line.startswith("evokegraph ")
    ]
    assert len(commands) >= 6 and commands[-2][-2:] == ["report", "abstraction"]
    exe = Path(sys.executable).parent / "evokegraph"
    env = {**os.environ, "COLUMNS": "120"}
    for cmd in commands[:-2]:  # up to `show`; the eval and the report are checked below
        p = subprocess.run(
            [str(exe), *cmd[1:]],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env=env,
            timeout=1800,
        )
        assert p.returncode == 0, f"{' '.join(cmd)}: {p.stderr[-2000:]}"
    p = subprocess.run(
        [str(exe), *commands[-2][1:], "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert p.returncode == 0, p.stderr
    printed = {
        r["depth"]: (r["captions"], round(r["concreteness"], 2)) for r in json.loads(p.stdout)
    }
    assert printed == documented_report(), (
        "docs/captions.md's table is not what `evokegraph report abstraction` prints after the "
        f"main job; it prints {printed}"
    )
