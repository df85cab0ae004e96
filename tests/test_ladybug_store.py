"""What only the embedded store does: opening rules, schema stamp, one writer."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from evokegraph.errors import (
    NotAKnowledgeBaseError,
    SchemaVersionError,
    StoreError,
    WriterLockedError,
)
from evokegraph.graph.ladybug_store import LadybugStore
from evokegraph.graph.schema import SCHEMA_VERSION
from evokegraph.records import GraphBatch, ImageEntry, ImageRecord


def test_missing_path_says_how_to_create(tmp_path: Path) -> None:
    with pytest.raises(
        NotAKnowledgeBaseError,
        match=r"no knowledge base at .*nope\.kb; create one with `evokegraph --db .*nope\.kb init`",
    ):
        LadybugStore(tmp_path / "nope.kb")
    assert not (tmp_path / "nope.kb").exists()


def test_not_a_database_file(tmp_path: Path) -> None:
    p = tmp_path / "notes.txt"
    p.write_text("hello")
    with pytest.raises(NotAKnowledgeBaseError, match="is not an evokegraph knowledge base"):
        LadybugStore(p)
    assert p.read_text() == "hello"
    with pytest.raises(NotAKnowledgeBaseError, match="is a directory"):
        LadybugStore(tmp_path)


def test_foreign_ladybug_database(tmp_path: Path) -> None:
    import ladybug

    p = tmp_path / "other.db"
    db = ladybug.Database(str(p))
    conn = ladybug.Connection(db)
    conn.execute("CREATE NODE TABLE Person(name STRING, PRIMARY KEY(name))")
    conn.close()
    db.close()
    with pytest.raises(NotAKnowledgeBaseError, match="LadybugDB database but not an evokegraph"):
        LadybugStore(p, create=True)


def test_a_kb_is_created_whole_or_not_at_all(tmp_path: Path, monkeypatch) -> None:
    """The schema goes in one transaction: a creation that fails (or is killed)
    halfway leaves no tables, and the next open with create makes them all; a
    read-write open without create says the creation was interrupted (SIGKILL at
    the start of an ingest once left a stamped KB without HAS_ELEMENT)."""
    import ladybug

    from evokegraph.graph import ladybug_store

    real = ladybug_store.ladybug_ddl()
    monkeypatch.setattr(
        ladybug_store, "ladybug_ddl", lambda: [*real[:5], "CREATE NONSENSE", *real[5:]]
    )
    p = tmp_path / "half.kb"
    with pytest.raises(RuntimeError):
        LadybugStore(p, create=True)
    db = ladybug.Database(str(p))
    conn = ladybug.Connection(db)
    assert conn.execute("CALL show_tables() RETURN *").get_all() == []
    conn.close()
    db.close()
    with pytest.raises(NotAKnowledgeBaseError, match="creation was interrupted; run `evokegraph"):
        LadybugStore(p)
    monkeypatch.setattr(ladybug_store, "ladybug_ddl", lambda: real)
    with LadybugStore(p, create=True) as kb:
        assert kb.schema_version == SCHEMA_VERSION and kb.stats().images == 0


def test_newer_schema_is_refused(kb_path: Path) -> None:
    with LadybugStore(kb_path, create=True) as kb:
        kb._run(
            "MATCH (m:Meta {key: 'schema_version'}) SET m.value = $v",
            {"v": str(SCHEMA_VERSION + 1)},
        )
    with pytest.raises(
        SchemaVersionError, match=f"schema version {SCHEMA_VERSION + 1}, newer than"
    ):
        LadybugStore(kb_path)


def test_read_only_store_refuses_writes(kb_path: Path) -> None:
    LadybugStore(kb_path, create=True).close()
    with LadybugStore(kb_path, read_only=True) as kb:
        with pytest.raises(StoreError, match="open read-only"):
            kb.write(GraphBatch())
        assert kb.stats().images == 0


HOLD_WRITER = textwrap.dedent(
    """
    import sys, time
    from evokegraph.graph.ladybug_store import LadybugStore
    from evokegraph.records import GraphBatch, ImageEntry, ImageRecord
    kb = LadybugStore(sys.argv[1])
    kb.write(GraphBatch(images=[ImageEntry(image=ImageRecord(id="f" * 64, uris=["w.jpg"]))]))
    print("ready", flush=True)
    time.sleep(30)
    """
)


def test_one_writer_at_a_time_readers_keep_working(kb_path: Path) -> None:
    LadybugStore(kb_path, create=True).close()
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_WRITER, str(kb_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        with pytest.raises(WriterLockedError, match="open for writing by another process"):
            LadybugStore(kb_path)
        with LadybugStore(kb_path, read_only=True) as reader:
            assert reader.stats().images == 1
    finally:
        proc.kill()
        proc.wait()
    deadline = time.time() + 10
    while True:  # the lock goes with the writer
        try:
            with LadybugStore(kb_path) as kb:
                kb.write(GraphBatch(images=[ImageEntry(image=ImageRecord(id="e" * 64))]))
                assert kb.stats().images == 2
            break
        except WriterLockedError:
            if time.time() > deadline:
                raise
            time.sleep(0.1)


def test_arrow_parameters_leave_no_cached_statement(tmp_path: Path) -> None:
    """ladybug 0.22's binding caches a prepared statement per Arrow table object (its
    parameter signature is new for each), never used again, holding the table: a
    writer's memory grew with every row it wrote. After each write none is left,
    and the statements with plain parameters stay cached."""
    with LadybugStore(tmp_path / "kb.kb", create=True) as kb:
        for i in range(3):
            entries = [
                ImageEntry(image=ImageRecord(id=f"{i:03d}{j:061x}", uris=[f"{i}-{j}.jpg"]))
                for j in range(4)
            ]
            kb.write(GraphBatch(images=entries))
            kb.image_records([e.image.id for e in entries])
        cache = kb._conn._pybind_implicit_prepared_cache
        assert cache, "the binding's cache is where the test looks"
        assert not [k for k in cache if any(sig[0] == "pointer" for _, sig in k[1])]
        assert len(kb.image_records([e.image.id for e in entries])) == 4
        assert kb.stats().images == 12


@pytest.mark.parametrize("scan_share", [0, 4, 10**6])
def test_stored_keys_by_scan_or_by_key_are_the_stored_ones_among_the_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scan_share: int
) -> None:
    """The look-up of stored keys scans the table or looks each key up (by the
    table's size against the keys'): either way exactly the stored keys among
    those asked, duplicates as asked, none of the others stored."""
    import evokegraph.graph.ladybug_store as LS

    monkeypatch.setattr(LS, "SCAN_SHARE", scan_share)
    with LadybugStore(tmp_path / "kb.kb", create=True) as kb:
        assert kb._existing_keys("Image", ["a" * 64]) == set()  # an empty table
        ids = [f"{j:064x}" for j in range(12)]
        kb.write(GraphBatch(images=[ImageEntry(image=ImageRecord(id=i)) for i in ids]))
        for asked in (ids[:1], ids[3:5] + ["f" * 64], ids + ["e" * 64, ids[2]], ["d" * 64]):
            want = [k for k in asked if k in ids]
            got = kb._stored_keys("Image", asked).to_pylist()
            assert sorted(got) == sorted(want)
            assert kb._existing_keys("Image", asked) == set(want)


def test_query_rows_are_the_plain_values_of_the_engines_rows(tmp_path: Path) -> None:
    """``query`` turns each row into JSON-able values in one pass (H24f,
    ``rows.jsonable_rows``): the same values as ``jsonable`` of the row's dict
    (nodes as dicts without the engine's ``_ID``, dates as ISO text, lists and
    maps inside), and a column named ``_ID`` is left out as before."""
    from evokegraph.graph import rows as R

    with LadybugStore(tmp_path / "k.kb", create=True) as kb:
        for q in (
            "MATCH (m:Meta) RETURN m, m.key AS key ORDER BY key",
            "RETURN [1, 2] AS l, {a: 1, b: [date('2020-01-02')]} AS m, "
            "date('2020-01-01') AS d, NULL AS n, 1.5 AS f, true AS t",
            "MATCH (m:Meta) RETURN m.key AS _ID, m.value AS value ORDER BY value",
        ):
            got = kb.query(q)
            assert got == [R.jsonable(r) for r in kb._dicts(q)]
            assert got and all("_ID" not in row for row in got)
            assert "_ID" not in json.dumps(got)  # nested nodes lose it too
        node = kb.query("MATCH (m:Meta) RETURN m LIMIT 1")[0]["m"]
        assert node["_LABEL"] == "Meta" and "key" in node
        mixed = kb.query("RETURN date('2020-01-01') AS d, [date('2020-01-03')] AS l")[0]
        assert mixed == {"d": "2020-01-01", "l": ["2020-01-03"]}
    cols = ["a", "_SRC", "b"]
    rows = [[1, 2, {"_ID": 1, "x": [3]}], ["s", None, None]]
    assert R.jsonable_rows(cols, rows) == [{"a": 1, "b": {"x": [3]}}, {"a": "s", "b": None}]
    with pytest.raises(ValueError):
        R.jsonable_rows(["a", "b"], [[1]])
    with pytest.raises(ValueError):
        R.jsonable_rows(["a", "_ID"], [[1]])


@pytest.mark.parametrize(
    ("cypher", "params", "text", "left"),
    [
        ("RETURN 1 LIMIT $k", {"k": 3}, "RETURN 1 LIMIT 3", {}),
        (
            "RETURN 1 skip $s limit $k",
            {"s": 0, "k": 2, "x": 1},
            "RETURN 1 skip 0 limit 2",
            {"x": 1},
        ),
        ("RETURN $k AS k LIMIT $k", {"k": 2}, "RETURN $k AS k LIMIT 2", {"k": 2}),
        (
            "MATCH (n) WHERE n.x = 'LIMIT $k' RETURN n SKIP $s LIMIT $k",
            {"k": 3, "s": 1},
            "MATCH (n) WHERE n.x = 'LIMIT $k' RETURN n SKIP 1 LIMIT 3",
            {"k": 3},
        ),
        ("RETURN 1 LIMIT $k", {"k": -1}, "RETURN 1 LIMIT $k", {"k": -1}),
        ("RETURN 1 LIMIT $k", {"k": True}, "RETURN 1 LIMIT $k", {"k": True}),
        ("RETURN 1 LIMIT $k", {"k": "3"}, "RETURN 1 LIMIT $k", {"k": "3"}),
        ("RETURN 1", {"k": 3}, "RETURN 1", {"k": 3}),
    ],
)
def test_row_limits_are_written_into_the_text(
    cypher: str, params: dict[str, object], text: str, left: dict[str, object]
) -> None:
    """An int SKIP/LIMIT parameter becomes its number (so the engine keeps the
    plan), never inside a string, never for another type; what each text holds
    is found once and remembered (H24f)."""
    from evokegraph.graph import ladybug_store as L

    for _ in range(2):  # the second time from memory, the same answer
        assert L.inline_row_limits(cypher, dict(params)) == (text, left)
    hits = L._row_limit_slots.cache_info().hits
    L.inline_row_limits(cypher, dict(params))
    assert L._row_limit_slots.cache_info().hits == hits + ("$" in cypher)
