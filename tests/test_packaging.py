"""The user's folders install under one namespace, in wheels and editable installs."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {
    "core": "evokegraph",
    "ingest": "evokegraph/ingest",
    "graph": "evokegraph/graph",
    "captioning": "evokegraph/captioning",
    "training": "evokegraph/training",
    "queries": "evokegraph/queries",
}


def test_wheel_maps_folders_under_evokegraph(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
    )
    (wheel,) = tmp_path.glob("evokegraph-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    tops = {n.split("/")[0] for n in names if not n.startswith("evokegraph-")}
    assert tops == {"evokegraph"}, f"stray top-level modules in the wheel: {tops}"
    for folder, pkg in FOLDERS.items():
        for py in (ROOT / folder).glob("*.py"):
            assert f"{pkg}/{py.name}" in names, f"{folder}/{py.name} missing from the wheel"


def test_installed_import_names_point_at_the_folders() -> None:
    import evokegraph
    import evokegraph.captioning
    import evokegraph.graph
    import evokegraph.ingest
    import evokegraph.queries
    import evokegraph.training

    for mod, folder in (
        (evokegraph, "core"),
        (evokegraph.graph, "graph"),
        (evokegraph.ingest, "ingest"),
        (evokegraph.captioning, "captioning"),
        (evokegraph.training, "training"),
        (evokegraph.queries, "queries"),
    ):
        # editable install: the module is the file in the folder; wheel: site-packages
        path = Path(mod.__file__).resolve()
        assert path.parent.name in (folder, mod.__name__.rsplit(".", 1)[-1])
