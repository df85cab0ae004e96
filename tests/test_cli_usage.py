"""What a new user trips on: usage errors, ids, empty results (issue 13).

A traceback (or a wrong exit code) fails them. Each test runs the CLI twice
over (the ``run`` fixture): in-process through ``evokegraph.cli.main`` (the
entry point's body; the fast loop) and through the installed entry point in a
subprocess (``slow``: ``make test`` runs both). The sweeps over every command
(``--help``, a bad option, a group without its subcommand) run in-process in
the fast loop, and through the entry point for the root, ``ingest`` and
``caption`` there and for every command in ``make test`` (``slow``).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import typer

from evokegraph.cli import app

EXE = Path(sys.executable).with_name("evokegraph")
pytestmark = pytest.mark.skipif(
    not EXE.exists(), reason="the evokegraph entry point is not installed"
)


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1"}
    env.pop("EVOKEGRAPH_DB", None)
    return subprocess.run(
        [str(EXE), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )


def cli_in_process(
    capsys: pytest.CaptureFixture[str], *args: str
) -> subprocess.CompletedProcess[str]:
    """``cli`` without the process: ``evokegraph.cli.main`` (the entry point's body)."""
    from evokegraph.cli import main

    code = main(list(args))
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(list(args), code, out, err)


Runner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(params=["in-process", pytest.param("entry point", marks=pytest.mark.slow)])
def run(request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]) -> Runner:
    """The CLI as a test runs it: ``evokegraph.cli.main`` in this process (the fast
    loop; a fresh process costs a second or more per command), and the installed
    entry point in a fresh process (``slow``: ``make test`` runs both)."""
    if request.param == "entry point":
        return cli

    def in_process(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        saved = os.environ.pop("EVOKEGRAPH_DB", None)
        try:
            with contextlib.chdir(cwd or Path.cwd()):
                return cli_in_process(capsys, *args)
        finally:
            if saved is not None:
                os.environ["EVOKEGRAPH_DB"] = saved

    return in_process


def one_line_usage_error(p: subprocess.CompletedProcess[str], what: str) -> str:
    assert "Traceback" not in p.stdout + p.stderr, f"{what}: traceback\n{p.stderr}"
    assert p.returncode == 2, f"{what}: exit {p.returncode}\n{p.stderr}"
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), f"{what}: {p.stderr!r}"
    return lines[0]


def _tree(cmd: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every command and group, found from the typer app (so new ones are covered)."""
    out = [(path, cmd)]
    for name, sub in sorted(getattr(cmd, "commands", {}).items()):
        out += _tree(sub, (*path, name))
    return out


COMMANDS = _tree(typer.main.get_command(app))


def test_discovery_sees_the_known_commands() -> None:
    names = {" ".join(p) for p, _ in COMMANDS}
    assert {"", "init", "show", "ingest", "report abstraction", "query run", "viz image"} <= names
    assert "eval" in names  # a group other engineers add commands to


# the commands whose sweep runs through the entry point in the fast loop too
ENTRY_POINT_CORE = {(), ("ingest",), ("caption",)}


def _by_entry_point(
    commands: list[tuple[tuple[str, ...], Any]],
) -> list[Any]:
    return [
        pytest.param(
            p,
            c,
            id=" ".join(p) or "(root)",
            marks=() if p in ENTRY_POINT_CORE else pytest.mark.slow,
        )
        for p, c in commands
    ]


def _help_and_a_bad_argument(run: Any, path: tuple[str, ...], db: str) -> None:
    shown = run(*path, "--help")
    assert shown.returncode == 0 and "Traceback" not in shown.stderr, shown.stderr
    assert "Usage" in shown.stdout
    bad = run("--db", db, *path, "--no-such-option-xyz")
    line = one_line_usage_error(bad, " ".join(path))
    assert "--no-such-option-xyz" in line and "--help" in line


@pytest.mark.parametrize("path,cmd", _by_entry_point(COMMANDS))
def test_help_and_a_bad_argument(path: tuple[str, ...], cmd: Any, tmp_path: Path) -> None:
    """`--help` works; an unknown option is one line on stderr and exit 2."""
    _help_and_a_bad_argument(cli, path, str(tmp_path / "none.kb"))


def test_help_and_a_bad_argument_of_every_command_in_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same sweep through ``main`` in this process (seconds, not minutes)."""
    monkeypatch.delenv("EVOKEGRAPH_DB", raising=False)
    for path, _ in COMMANDS:
        _help_and_a_bad_argument(partial(cli_in_process, capsys), path, str(tmp_path / "n.kb"))


GROUPS = [(p, c) for p, c in COMMANDS if hasattr(c, "commands")]


def _group_prints_help_exit_2(p: subprocess.CompletedProcess[str]) -> None:
    assert p.returncode == 2 and "Traceback" not in p.stdout + p.stderr
    assert "Usage" in p.stdout + p.stderr and "Commands" in p.stdout + p.stderr


@pytest.mark.parametrize("path,cmd", _by_entry_point(GROUPS))
def test_group_without_subcommand_prints_help_exit_2(path: tuple[str, ...], cmd: Any) -> None:
    _group_prints_help_exit_2(cli(*path))


def test_every_group_without_subcommand_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    for path, _ in GROUPS:
        _group_prints_help_exit_2(cli_in_process(capsys, *path))


@pytest.mark.parametrize(
    "args,needle,hint",
    [
        (["bogus"], "No such command 'bogus'", "evokegraph --help"),
        (["show"], "Missing argument 'image'", "evokegraph show --help"),
        (["ingest", "--top-k", "abc", "x"], "'--top-k'", "evokegraph ingest --help"),
        (["analyze", "pagerank", "--top", "0"], "'--top'", "evokegraph analyze pagerank --help"),
        (["query", "run"], "Missing argument 'name'", "evokegraph query run --help"),
    ],
)
def test_usage_errors_are_one_line(args: list[str], needle: str, hint: str, run: Runner) -> None:
    line = one_line_usage_error(run(*args), " ".join(args))
    assert needle in line and f"(try `{hint}`)" in line


def test_global_option_after_the_command_says_where_it_goes(tmp_path: Path, run: Runner) -> None:
    line = one_line_usage_error(run("init", "--db", str(tmp_path / "k.kb")), "init --db")
    assert "--db is a global option: put it before the command" in line
    # and the "no knowledge base" hint gives the working order
    p = run("--db", str(tmp_path / "k.kb"), "stats")
    assert p.returncode == 1 and f"`evokegraph --db {tmp_path / 'k.kb'} init`" in p.stderr
    assert run("--db", str(tmp_path / "k.kb"), "init").returncode == 0


# -- ids: one resolver for every command that takes an image or a caption --------
@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """A small KB from two of the bundled sample images, with captions at depth 1:
    ingested and captioned in-process, as `init`, `ingest` and `caption --depth 1`
    would (the sentence encoder is loaded once per test process, not per command);
    the tests then run the entry point on it."""
    import hashlib

    from evokegraph import api
    from evokegraph.ingest.sample import write_sample

    root = tmp_path_factory.mktemp("kb")
    sample = root / "sample"
    write_sample(sample)
    keep = {"coffee", "camera"}
    for f in sample.iterdir():
        if f.suffix in (".jpg", ".txt") and f.stem not in keep:
            f.unlink()
    (sample / "sample.jsonl").unlink(missing_ok=True)
    db = root / "k.kb"
    with api.open_kb(db, create=True) as store:
        s = api.ingest(store, [sample])
        assert s.new == 2 and s.failed == 0
        assert api.caption(store, depths=[1]).captions > 0
    coffee = hashlib.sha256((sample / "coffee.jpg").read_bytes()).hexdigest()
    return db, sample, coffee


@pytest.mark.parametrize(
    "which",
    [
        pytest.param("id", marks=pytest.mark.slow),
        "prefix",
        pytest.param("path", marks=pytest.mark.slow),
        "relative path",
    ],
)
def test_every_image_reference_works_everywhere(
    kb: tuple[Path, Path, str], tmp_path: Path, which: str, run: Runner
) -> None:
    db, sample, coffee = kb
    refs = {
        "id": coffee,
        "prefix": coffee[:8],
        "path": str(sample / "coffee.jpg"),
        "relative path": "sample/coffee.jpg",
    }
    for ref in [refs[which]]:
        p = run("--db", str(db), "show", ref, "--json", cwd=sample.parent)
        assert p.returncode == 0, (ref, p.stderr)
        p = run(
            "--db", str(db), "query", "run", "ladder", "-p", f"image={ref}", "-p", "element=cup",
            "--format", "json", cwd=sample.parent,
        )  # fmt: skip
        assert p.returncode == 0 and '"distance"' in p.stdout, (ref, p.stdout, p.stderr)
        out = tmp_path / "v.html"
        p = run("--db", str(db), "viz", "image", ref, "-o", str(out), cwd=sample.parent)
        assert p.returncode == 0, (ref, p.stderr)
        assert "<title>coffee.jpg</title>" in out.read_text() or "coffee.jpg" in out.read_text()


@pytest.mark.parametrize(
    "ref,needle",
    [
        ("README.md", "README.md is a .md file, not an image"),
        pytest.param("other.png", "is not in the knowledge base", marks=pytest.mark.slow),
        pytest.param(
            "abc", "is not an image file, a stored path or an image id", marks=pytest.mark.slow
        ),
        ("ffffffffff", "no image with id ffffffffff"),
    ],
)
def test_bad_image_references_fail_in_one_line(
    kb: tuple[Path, Path, str], ref: str, needle: str, tmp_path: Path, run: Runner
) -> None:
    db, _, _ = kb
    (tmp_path / "README.md").write_text("not an image")
    from PIL import Image

    Image.new("RGB", (8, 8), (1, 2, 3)).save(tmp_path / "other.png")  # a picture never ingested
    for args in (
        ["show", ref],
        ["query", "run", "creative_neighbours", "-p", f"image={ref}"],
        ["viz", "image", ref, "-o", str(tmp_path / "x.html")],
    ):
        line = one_line_usage_error(run("--db", str(db), *args, cwd=tmp_path), " ".join(args))
        assert needle in line


def test_explain_takes_a_caption_prefix(kb: tuple[Path, Path, str], run: Runner) -> None:
    import json

    db, _, coffee = kb
    view = json.loads(run("--db", str(db), "show", coffee, "--json").stdout)
    cap = view["captions"][0]
    p = run("--db", str(db), "explain", cap["id"][:8])
    assert p.returncode == 0 and cap["text"] in p.stdout
    line = one_line_usage_error(run("--db", str(db), "explain", "zz"), "explain zz")
    assert "is not a caption id" in line


def test_empty_results_say_so(kb: tuple[Path, Path, str], run: Runner) -> None:
    db, _, _ = kb
    p = run("--db", str(db), "query", "run", "evokes", "-p", "concept=nothing-like-this")
    assert p.returncode == 0 and p.stdout.strip() == "evokes: no results"
    p = run("--db", str(db), "cypher", "MATCH (c:Concept {name: 'zzz'}) RETURN c.name")
    assert p.returncode == 0 and p.stdout.strip() == "no rows"


def test_cypher_write_reports_success_and_refusal_names_the_flag(
    kb: tuple[Path, Path, str], tmp_path: Path, run: Runner
) -> None:
    db = tmp_path / "w.kb"
    run("--db", str(db), "init")
    line = one_line_usage_error(
        run("--db", str(db), "cypher", "CREATE (:Concept {name: 'x'})"), "w"
    )
    assert (
        line == "Error: refusing a query that writes; add --write to run it (read-only by default)"
    )
    p = run("--db", str(db), "cypher", "--write", "CREATE (:Concept {name: 'x'})")
    assert p.returncode == 0 and p.stdout.strip() == "done (the query returned no rows)"


def test_show_wraps_words_and_never_cuts_them(kb: tuple[Path, Path, str], run: Runner) -> None:
    db, _, coffee = kb
    p = run("--db", str(db), "show", coffee)
    assert p.returncode == 0 and "…" not in p.stdout
    import json

    view = json.loads(run("--db", str(db), "show", coffee, "--json").stdout)
    words = {w for v in view["evocations"] for w in v["concept"].split()}
    text = p.stdout
    missing = sorted(w for w in words if w not in text)
    assert not missing, missing


# -- honest output (point 4) ------------------------------------------------------
@pytest.mark.slow  # a caption run in a fresh process loads the grammar lexicons (~40 s loaded)
def test_caption_no_progress_draws_nothing(kb: tuple[Path, Path, str]) -> None:
    db, _, coffee = kb
    p = cli("--db", str(db), "caption", "--image", coffee[:8], "--depth", "2", "--no-progress")
    assert p.returncode == 0 and p.stderr == "", p.stderr


def test_missing_ingest_source_fails_before_any_progress_bar(
    kb: tuple[Path, Path, str], run: Runner
) -> None:
    db, _, _ = kb
    p = run("--db", str(db), "ingest", "no/such/folder")
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == [
        "Error: source no/such/folder does not exist; give a folder, a .csv/.jsonl list, "
        "a COCO .json or an image"
    ]


def test_export_says_when_a_split_got_no_image(
    kb: tuple[Path, Path, str], tmp_path: Path, run: Runner
) -> None:
    db, _, _ = kb
    out = tmp_path / "pairs"
    p = run("--db", str(db), "export", str(out), "--split-ratio", "train=0.9,val=0.05,test=0.05")
    assert p.returncode == 0, p.stderr
    written = {f.stem for f in out.glob("*.csv")}
    empty = {"train", "val", "test"} - written
    assert empty, "two images cannot fill three splits"
    assert "warning: no image landed in" in p.stderr
    for s in empty:
        assert f"{s} (" in p.stderr
    for s in written:
        assert f"{s} (" not in p.stderr


def test_viz_image_title_and_path_direction(
    kb: tuple[Path, Path, str], tmp_path: Path, run: Runner
) -> None:
    import json

    db, _, coffee = kb
    out = tmp_path / "i.html"
    assert run("--db", str(db), "viz", "image", coffee, "-o", str(out)).returncode == 0
    page = out.read_text()
    assert "coffee.jpg" in page and f"image {coffee[:12]}" not in page
    view = json.loads(run("--db", str(db), "show", coffee, "--json").stdout)
    ev = next(v for v in view["evocations"] if v["distance"] == 1)
    out = tmp_path / "p.html"
    p = run("--db", str(db), "viz", "path", ev["element"], ev["concept"], "-o", str(out))
    assert p.returncode == 0, p.stderr
    assert "(2 nodes)" in " ".join(p.stdout.split())


def test_path_graph_draws_each_step_once_in_its_stored_direction() -> None:
    import networkx as nx

    from evokegraph.queries.analytics import path_graph, strongest_path

    g = nx.DiGraph()
    g.add_edge("cup", "mug", weight=0.9, distance=1)
    g.add_edge("mug", "cup", weight=0.4, distance=1)
    g.add_edge("tea", "mug", weight=0.8, distance=2)
    g.add_edge("cup", "tea", weight=0.1, distance=3)
    steps = strongest_path(g, "cup", "tea")
    sub = path_graph(g, steps)
    assert sorted(sub.edges()) == [("cup", "mug"), ("tea", "mug")]
    assert sub["cup"]["mug"]["weight"] == 0.9


@pytest.mark.slow  # an ingest in a fresh process (the no-caption hint: test_ingest_runner too)
def test_uncaptioned_images_get_one_hint_and_failures_show_whole_uris(tmp_path: Path) -> None:
    from PIL import Image

    d = tmp_path / ("a-rather-long-folder-name-for-photos-" * 3) / "holiday"
    d.mkdir(parents=True)
    for name, colour in (("first.jpg", (200, 0, 0)), ("second.jpg", (0, 0, 200))):
        Image.new("RGB", (16, 16), colour).save(d / name, "JPEG")
    db = str(tmp_path / "k.kb")
    assert cli("--db", db, "init").returncode == 0
    p = cli("--db", db, "ingest", str(d), "--no-progress")
    assert p.returncode == 3 and "Traceback" not in p.stderr
    assert p.stderr.count("had no caption") == 1
    assert "2 image(s) had no caption" in p.stderr and "--extractor vlm --vlm openai:" in p.stderr
    listing = cli("--db", db, "failures").stdout
    for name in ("first.jpg", "second.jpg"):
        assert str(d / name) in listing  # the uri whole, on one line


# -- messages a user met on a fresh clone (issue 23) ---------------------------


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """photos/kitty.jpg with its caption sidecar, a note, a pdf and a hidden file."""
    from PIL import Image

    folder = tmp_path / "photos"
    folder.mkdir()
    Image.new("RGB", (32, 24), (200, 120, 40)).save(folder / "kitty.jpg", "JPEG")
    (folder / "kitty.txt").write_text("a kitten on a sofa\n")
    (folder / "notes.txt").write_text("shopping list\n")
    (folder / "report.pdf").write_bytes(b"%PDF-1.4\n")
    (folder / ".DS_Store").write_bytes(b"\0")
    from evokegraph.cli import main

    assert main(["--db", str(tmp_path / "k.kb"), "init"]) == 0  # set-up: in this process
    return folder


def test_show_a_caption_file_names_its_picture(photos: Path, run: Runner) -> None:
    db = str(photos.parent / "k.kb")
    line = one_line_usage_error(
        run("--db", db, "show", "photos/kitty.txt", cwd=photos.parent), "show .txt"
    )
    assert "photos/kitty.txt is a .txt file, not an image" in line
    assert "evokegraph show photos/kitty.jpg" in line and "evokegraph ingest" not in line
    line = one_line_usage_error(
        run("--db", db, "show", "photos/notes.txt", cwd=photos.parent), "show"
    )
    assert "not an image; give an image file" in line


@pytest.mark.parametrize(
    ("source", "said"),
    [
        ("photos/kitty.txt", "holds the captions of photos/kitty.jpg"),
        ("photos/report.pdf", "a .pdf file is not a source"),
    ],
)
def test_ingest_refuses_a_non_source_before_anything_is_drawn(
    photos: Path, source: str, said: str, run: Runner
) -> None:
    p = run("--db", str(photos.parent / "k.kb"), "ingest", source, cwd=photos.parent)
    line = one_line_usage_error(p, f"ingest {source}")
    assert said in line and p.stdout == "", p.stdout  # no progress bar, no summary


def test_ingest_summary_names_files_not_read_and_cannot_contradict_itself(
    photos: Path, run: Runner
) -> None:
    p = run(
        "--db",
        str(photos.parent / "k.kb"),
        "ingest",
        "photos",
        "--dry-run",
        "--no-progress",
        cwd=photos.parent,
    )
    assert p.returncode == 0, p.stderr
    rows = {
        cells[0].strip(): cells[1].strip()
        for line in p.stdout.splitlines()
        if line.startswith("│") and len(cells := line.strip("│").split("│")) == 2
    }
    assert (
        rows["files not read (not images)"] == "1 .pdf, 1 .txt"
    )  # notes.txt; kitty.txt is a sidecar
    assert rows["files read from the sources"] == "1"
    assert "failures recorded (per file and stage)" in rows and "seen" not in rows


def test_a_table_title_is_never_cut(photos: Path, run: Runner) -> None:
    env_cols = run(
        "--db",
        str(photos.parent / "k.kb"),
        "ingest",
        "photos",
        "--dry-run",
        "--no-progress",
        cwd=photos.parent,
    )
    title = next(line for line in env_cols.stdout.splitlines() if "ingest (dry run)" in line)
    assert title.split("ingest (dry run) ", 1)[1].strip().startswith("ingest-"), title
    assert len(title.split()[-1]) == len("ingest-20260101T000000-abcdef"), title  # the whole run id


def test_query_run_refuses_a_bad_number_in_its_words(photos: Path, run: Runner) -> None:
    db = str(photos.parent / "k.kb")
    line = one_line_usage_error(
        run("--db", db, "query", "run", "evokes", "-p", "concept=cup", "-p", "limit=abc"),
        "limit=abc",
    )
    assert "limit='abc' must be a whole number >= 0" in line and "Runtime exception" not in line
    line = one_line_usage_error(
        run("--db", db, "query", "run", "evokes", "-p", "concept=cup", "-p", "limit=-1"), "limit=-1"
    )
    assert "limit=-1 must be a whole number >= 0" in line


def test_cypher_names_an_unset_parameter(photos: Path, run: Runner) -> None:
    db = str(photos.parent / "k.kb")
    p = run(
        "--db", db, "cypher", "MATCH (c:Concept {name: $n}) WHERE c.pos <> '$x' RETURN c.name AS n"
    )
    line = one_line_usage_error(p, "cypher $n")
    assert "uses $n but no value was given; pass -p n=VALUE" in line and "$x" not in line
    ok = run("--db", db, "cypher", "MATCH (c:Concept {name: $n}) RETURN c.name AS n", "-p", "n=cup")
    assert ok.returncode == 0 and "no rows" in ok.stdout


@pytest.mark.slow
def test_stored_paths_are_normalised(photos: Path) -> None:
    (photos.parent / "work").mkdir()
    (photos / "kitty.txt").unlink()  # no caption: the image is stored, nothing is mined
    db = str(photos.parent / "k.kb")
    p = cli(
        "--db",
        db,
        "ingest",
        "work/../photos/kitty.jpg",
        "--no-progress",
        "--miner",
        "lexical",
        cwd=photos.parent,
    )
    assert p.returncode == 3, p.stderr  # the missing caption is a recorded failure
    out = cli("--db", db, "cypher", "MATCH (i:Image) RETURN i.uris AS uris", "--json").stdout
    import json

    assert json.loads(out) == [{"uris": [str(photos / "kitty.jpg")]}]
