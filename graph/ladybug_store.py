"""The embedded default store: LadybugDB (the maintained Kuzu fork), in process.

Bulk writes go through ``COPY FROM`` Arrow tables inside one transaction per
batch (atomic: a killed process leaves either the whole batch or none of it);
small updates use ``UNWIND $rows`` with separate ``MATCH`` clauses, never the
comma form, which LadybugDB plans ~700x slower. Only one process may hold the
database for writing; read-only openers keep working beside it.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import os
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from evokegraph.errors import (
    NotAKnowledgeBaseError,
    ReadOnlyQueryError,
    SchemaVersionError,
    StoreError,
    UserInputError,
    WriterLockedError,
)
from evokegraph.graph import cypher_text as Q
from evokegraph.graph import (
    network_index,
    plan_columns,
    query_limits,
    reads,
    recovery,
    schema,
    write_plan,
)
from evokegraph.graph import rows as R
from evokegraph.graph.arrow_schema import node_schema, rel_schema, to_table
from evokegraph.graph.protocol import is_write_query
from evokegraph.graph.schema import NODE_BY_LABEL, REL_BY_TYPE, SCHEMA_VERSION, ladybug_ddl
from evokegraph.graph.traversal import Edge
from evokegraph.records import (
    Failure,
    GraphBatch,
    ImageRecord,
    ImageView,
    RunRecord,
    Stats,
)

if TYPE_CHECKING:
    from evokegraph.graph.backend_options import LadybugOptions

W_SET_CONCRETENESS = (
    "UNWIND $rows AS r MATCH (c:Concept {name: r.name}) SET c.concreteness = r.concreteness"
)

# EVOKES rows as ASSOCIATED_WITH is built from them (write_plan.aggregate_table):
# the element's concept (= its IS target) is the source.
_EVOKES_ROWS = (
    "MATCH (e)-[v:EVOKES]->(b:Concept) RETURN e.concept AS source, e.image_id AS image_id, "
    "b.name AS target, v.distance AS distance, v.weight AS weight"
)
Q_EVOKES_ROWS_ALL = "MATCH (e:Element) " + _EVOKES_ROWS
# the same rows for the elements of a range of concepts (names compared as bytes,
# as Arrow sorts them; checked where used)
Q_EVOKES_ROWS_RANGE = (
    "MATCH (e:Element) WHERE e.concept >= $lo AND e.concept <= $hi " + _EVOKES_ROWS
)
Q_ELEMENTS_PER_CONCEPT = "MATCH (e:Element) RETURN e.concept AS concept, count(*) AS n"
Q_COUNT_EVOKES = "MATCH ()-[v:EVOKES]->() RETURN count(v)"
# A full ASSOCIATED_WITH rebuild reads the EVOKES rows of about this many elements
# at a time (~5 EVOKES each: ~60 MB of Arrow rows), by ranges of their concepts,
# so its memory does not grow with the graph
AW_CHUNK_ELEMENTS = 50_000
# ... and copies the ranges of about this many elements per transaction, each
# checkpointed: what the engine holds for uncommitted rows is bounded by it (a
# 20k-image collection, ~100k elements, is one transaction)
AW_TX_ELEMENTS = 200_000
# Starting from keys, each further hop is an OPTIONAL MATCH and the misses are
# filtered after: LadybugDB plans `MATCH (a {key: k})<-[:IS]-(e)` (or a second
# MATCH clause from a bound node) as a join that scans the whole relationship
# table; OPTIONAL MATCH follows the bound node's adjacency list. At 100k images:
# the EVOKES rows of one concept 2,692 -> 2.9 ms, of 200 concepts 1,766 -> 134 ms;
# the elements of 14 images 143 -> 1.7 ms (same rows).
Q_EVOKES_ROWS_SOME = (
    "UNWIND $names AS k MATCH (a:Concept {name: k}) OPTIONAL MATCH (a)<-[:IS]-(e:Element) "
    "OPTIONAL MATCH (e)-[v:EVOKES]->(b:Concept) WITH e, v, b WHERE v IS NOT NULL "
    "RETURN e.concept AS source, e.image_id AS image_id, "
    "b.name AS target, v.distance AS distance, v.weight AS weight"
)
_OF_IMAGES = (  # the elements of the images $ids (see Q_EVOKES_ROWS_SOME)
    "UNWIND $ids AS k MATCH (i:Image {id: k}) OPTIONAL MATCH (i)-[:HAS_ELEMENT]->(e:Element) "
)
W_DELETE_ELEMENTS_OF = _OF_IMAGES + "WITH e WHERE e IS NOT NULL DETACH DELETE e"
W_DELETE_EVOKES_OF = (
    _OF_IMAGES + "OPTIONAL MATCH (e)-[v:EVOKES]->(:Concept) WITH v WHERE v IS NOT NULL DELETE v"
)
Q_ELEMENT_IDS_OF = _OF_IMAGES + "WITH e WHERE e IS NOT NULL RETURN e.id"
W_DELETE_AW_OF = (
    "UNWIND $names AS k MATCH (a:Concept {name: k}) "
    "OPTIONAL MATCH (a)-[r:ASSOCIATED_WITH]->(:Concept) WITH r WHERE r IS NOT NULL DELETE r"
)
Q_IMAGE_PROPS = "LOAD FROM $t MATCH (n:Image {id: k}) RETURN " + ", ".join(
    f"n.{c} AS {c}" for c, _ in NODE_BY_LABEL["Image"].columns
)
# an image's captions and the concepts they use: Q.Q_IMAGE_CAPTIONS' rows, in two reads
Q_CAPTIONS_OF_IMAGE = (
    "MATCH (:Image {id: $id})<-[:DESCRIBES]-(c:Caption) "
    "RETURN c.id AS id, c.text AS text, c.depth AS depth, c.realizer AS realizer, "
    "c.model AS model, c.path AS path, c.weight AS weight, c.run AS run ORDER BY depth, id"
)
Q_CAPTION_USES = (
    "MATCH (:Image {id: $id})<-[:DESCRIBES]-(c:Caption)-[:USES]->(u:Concept) RETURN c.id, u.name"
)
_AW_DDL = next(d for d in ladybug_ddl() if " ASSOCIATED_WITH(" in d)
_EVOKES_DDL = next(d for d in ladybug_ddl() if " EVOKES(" in d)
# every stored EVOKES row in the columns of its Arrow schema (rel_schema("EVOKES"))
Q_EVOKES_STORED = (
    "MATCH (e:Element)-[v:EVOKES]->(c:Concept) RETURN e.id AS `from`, c.name AS `to`, "
    + ", ".join(f"v.{c} AS {c}" for c, _ in REL_BY_TYPE["EVOKES"].columns)
)
# More touched concepts than this: ASSOCIATED_WITH is rebuilt whole (the same
# edges: they are a function of EVOKES alone), as deleting and looking up that
# many concepts' edges one by one costs more than one scan and one COPY
FEW_CONCEPTS = 2000
# EVOKES is rewritten whole when a copy brings more than stored / REWRITE_SHARE rows
REWRITE_SHARE = 1
# stored keys are looked up by one scan of the table (~0.5 us a node) rather
# than key by key (~2.5 us a key) when it holds at most SCAN_SHARE nodes per key
SCAN_SHARE = 4


# LadybugDB plans a statement once and reuses the plan for new parameter values,
# except when SKIP or LIMIT is a parameter: then it plans again on every run
# (measured: 15-20 ms for the six-node creative_neighbours query, 0.3 ms for a
# one-node one). An int parameter of SKIP/LIMIT is written into the text as a
# number: the value is a Python int (checked), rendered by ``int.__str__`` as
# digits only, so no text of the caller's reaches the Cypher.
_ROW_LIMIT = re.compile(r"\b(SKIP|LIMIT)\s+\$(\w+)\b", re.IGNORECASE)


def inline_row_limits(
    cypher: str, params: dict[str, Any] | None
) -> tuple[str, dict[str, Any] | None]:
    """``SKIP $n`` / ``LIMIT $n`` with an int ``n`` >= 0 -> the number itself
    (outside string literals); the parameter goes when nothing else uses it."""
    if not params or "$" not in cypher:
        return cypher, params
    slots = _row_limit_slots(cypher) if len(cypher) <= _SLOTS_MEMO_CHARS else _slots(cypher)
    if not slots:
        return cypher, params
    parts: list[str] = []
    used: set[str] = set()
    at = 0
    for begin, end, keyword, name in slots:
        value = params.get(name)
        if type(value) is not int or value < 0:
            continue
        used.add(name)
        parts += [cypher[at:begin], f"{keyword} {int(value)}"]
        at = end
    if not used:
        return cypher, params
    text = "".join([*parts, cypher[at:]])
    left = {k: v for k, v in params.items() if k not in used or f"${k}" in text}
    return text, left


def _slots(cypher: str) -> tuple[tuple[int, int, str, str], ...]:
    """Where ``cypher`` has ``SKIP $n`` / ``LIMIT $n`` outside string literals:
    (start, end, keyword, parameter name) of each."""
    found = []
    for m in _ROW_LIMIT.finditer(cypher):
        before = cypher[: m.start()]
        if (before.count("'") + before.count('"')) % 2 == 0:
            found.append((m.start(), m.end(), m.group(1), m.group(2)))
    return tuple(found)


# H24f: the explorer's fixed query texts pass here on every read (the scan was ~2% of
# its page threads' GIL time, ~10 us a query with a LIMIT): texts up to this long are
# remembered, 256 of them
_SLOTS_MEMO_CHARS = 2000
_row_limit_slots = functools.lru_cache(maxsize=256)(_slots)


def release_freed_memory() -> None:
    """Give the memory freed by the engine (a checkpoint, a big statement) back
    to the system: glibc keeps freed heap pages for the process otherwise, so
    the RSS of a long write only grew (``malloc_trim``; nothing where there is
    no glibc), and Arrow's pool its unused blocks."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    pa.default_memory_pool().release_unused()


def _is_arrow(value: Any) -> bool:
    return type(value).__module__.startswith("pyarrow")


def forget_arrow_statements(conn: Any) -> int:
    """Drop the statements the ladybug 0.22 binding cached for Arrow parameters;
    returns how many. The binding caches every statement it prepares, keyed by
    its text and its parameters' signature, and the signature of an Arrow table
    is new for every table object, so each ``COPY ... FROM $t`` or ``LOAD FROM
    $t`` of a new table added an entry that is never used again and keeps the
    table and its bound scan alive as long as the connection: a writer's memory
    grew with every row it wrote (~80 MiB a 2,048-image flush; 4.2 GiB peak for
    100k images through ``GraphStore.write``). Only those entries go."""
    cache = getattr(conn, "_pybind_implicit_prepared_cache", None)
    lock = getattr(conn, "_prepared_cache_lock", None)
    if not isinstance(cache, dict) or lock is None:
        return 0

    def by_pointer(key: Any) -> bool:  # (text, ((name, ("pointer", ...)), ...))
        try:
            return any(sig[0] == "pointer" for _, sig in key[1])
        except (TypeError, IndexError, ValueError):
            return False

    with lock:
        stale = [k for k in cache if by_pointer(k)]
        for k in stale:
            del cache[k]
    return len(stale)


def _all_rows(res: Any) -> list[list[Any]]:
    """Every row of a LadybugDB result as lists: the engine's own result object
    row by row where the wrapper exposes it (H24: ``QueryResult.get_all`` checks
    and dispatches twice per row in Python; the explorer's pages spent ~8% of
    their GIL time there), else ``get_all``."""
    raw = getattr(res, "_query_result", None)
    if raw is None or res.as_dict or res.is_closed or res.connection is None:
        return cast(list[list[Any]], res.get_all())
    has_next, get_next = raw.hasNext, raw.getNext
    rows: list[list[Any]] = []
    while has_next():
        rows.append(get_next())
    return rows


class LadybugStore(reads.SharedReads):
    """:class:`~evokegraph.graph.store.GraphStore` over an embedded LadybugDB file."""

    backend = "ladybug"
    _timeout_s: float | None = None  # a reader's query time limit (H24: reader())

    @classmethod
    def from_options(
        cls, options: LadybugOptions, *, read_only: bool, create: bool
    ) -> LadybugStore:
        """The registry's opener (:mod:`evokegraph.graph.backends`)."""
        return cls(Path(options.path), read_only=read_only, create=create)

    def __init__(self, path: Path, *, read_only: bool = False, create: bool = False) -> None:
        import ladybug

        self.path = Path(path)
        self.read_only = read_only
        self._writes = [0]  # commits by this handle and its readers (shared by reader())
        if self.path.is_dir():
            raise NotAKnowledgeBaseError(
                f"{self.path} is a directory, not an evokegraph knowledge base; "
                "pass the path of a .kb file with --db"
            )
        if not self.path.exists() and not create:
            raise NotAKnowledgeBaseError(
                f"no knowledge base at {self.path}; create one with `evokegraph --db {self.path} init`"
            )
        if create and read_only:
            raise UserInputError("cannot create a knowledge base read-only")
        try:
            # H24: a read-only open recovers a file whose last checkpoint failed
            self._db = recovery.open_database(self.path, read_only=read_only)
        except RuntimeError as exc:
            msg = str(exc)
            if "lock" in msg.lower():
                raise WriterLockedError(
                    f"{self.path} is open for writing by another process; wait for it to "
                    "finish, or use a read-only command (stats, show, query, cypher)"
                ) from None
            if "not a valid" in msg.lower() or "database file" in msg.lower():
                raise NotAKnowledgeBaseError(
                    f"{self.path} is not an evokegraph knowledge base (not a LadybugDB file); "
                    "pass another --db path"
                ) from None
            raise StoreError(f"cannot open {self.path}: {msg.splitlines()[0]}") from None
        self._conn = ladybug.Connection(self._db)
        tables = self._tables()
        if "Meta" not in tables:
            if create and not tables:
                self.ensure_schema()
            elif not tables:  # a creation killed before its one transaction committed
                self.close()
                raise NotAKnowledgeBaseError(
                    f"{self.path} holds no tables: its creation was interrupted; "
                    f"run `evokegraph --db {self.path} init`"
                )
            else:
                self.close()
                raise NotAKnowledgeBaseError(
                    f"{self.path} is a LadybugDB database but not an evokegraph knowledge "
                    "base (no schema stamp); pass another --db path"
                )
        self.schema_version = self._schema_version()
        if self.schema_version > SCHEMA_VERSION:
            self.close()
            raise SchemaVersionError(
                f"{self.path} has schema version {self.schema_version}, newer than this "
                f"evokegraph supports ({SCHEMA_VERSION}); upgrade evokegraph"
            )

    # -- plumbing -----------------------------------------------------------
    def __enter__(self) -> LadybugStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if getattr(self, "_checkpoint_every", None) and self._conn is not None:
            with contextlib.suppress(RuntimeError):
                self._run("CHECKPOINT")  # what readers see catches up before the lock goes
        conn, db = getattr(self, "_conn", None), getattr(self, "_db", None)
        self._conn = self._db = None  # type: ignore[assignment]
        if conn is not None:
            conn.close()
        if db is not None:
            db.close()

    def _run(self, cypher: str, params: dict[str, Any] | None = None) -> list[list[Any]]:
        if self._conn is None:
            raise StoreError("the store is closed")
        cypher, params = inline_row_limits(cypher, params)
        res = self._conn.execute(cypher, params or {})
        if isinstance(res, list):  # several statements
            res = res[-1]
        # rows are lists (ladybug gives dicts only when asked to; never here)
        rows = cast(list[list[Any]], res.get_all())
        if params and any(_is_arrow(v) for v in params.values()):
            forget_arrow_statements(self._conn)
        return rows

    def _rows(self, cypher: str, params: dict[str, Any] | None = None) -> list[list[Any]]:
        return self._run(cypher, params)

    def _dict_rows(self, cypher: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return self._dicts(cypher, params)

    def _dicts(self, cypher: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        cols, rows = self._columns_and_rows(cypher, params)
        return [dict(zip(cols, row, strict=True)) for row in rows]

    def _columns_and_rows(
        self, cypher: str, params: dict[str, Any] | None = None
    ) -> tuple[list[str], list[list[Any]]]:
        cypher, params = inline_row_limits(cypher, params)
        res = self._conn.execute(cypher, params or {})
        if isinstance(res, list):
            res = res[-1]
        return res.get_column_names(), _all_rows(res)

    def _tables(self) -> set[str]:
        return {row[1] for row in self._run("CALL show_tables() RETURN *")}

    def _schema_version(self) -> int:
        return int(self.get_meta("schema_version") or 0)

    def get_meta(self, key: str) -> str | None:
        rows = self._run(Q.Q_GET_META, {"k": key})
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self._require_writable()
        self._run(Q.W_SET_META, {"k": key, "v": value})

    def _require_writable(self) -> None:
        if self.read_only:
            raise StoreError(f"{self.path} is open read-only; this command needs write access")

    @contextmanager
    def _tx(self) -> Iterator[None]:
        self._run("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            # a failed COPY has rolled the transaction back already
            with contextlib.suppress(RuntimeError):
                self._run("ROLLBACK")
            raise
        self._run("COMMIT")
        self._writes[0] += 1

    def write_version(self) -> tuple[object, ...]:
        """A value that changes on every committed write, by this process or
        another (the database file and its log change on disk): what
        :mod:`~evokegraph.graph.kb_cache` keys per-KB aggregates by."""
        files: list[tuple[int, int, int] | None] = []
        # H24: the two names as strings once (the explorer asks this on every request:
        # a Path built and turned into a str per call was ~5% of its event loop's time)
        for f in self._version_files or self._names_for_version():
            try:
                st = os.stat(f)
                files.append((st.st_size, st.st_mtime_ns, st.st_ino))
            except OSError:
                files.append(None)
        return (self._writes[0], *files)

    _version_files: tuple[str, str] | None = None
    _identity: str | None = None

    def _names_for_version(self) -> tuple[str, str]:
        self._version_files = (str(self.path), str(self.path) + ".wal")
        return self._version_files

    def cache_identity(self) -> str:
        """Which KB this is, for :mod:`~evokegraph.graph.kb_cache` (the path
        resolved once per handle: it was a realpath's syscalls per call)."""
        if self._identity is None:
            self._identity = str(self.path.resolve())
        return self._identity

    def _copy_nodes(self, label: str, rows: list[dict[str, Any]]) -> int:
        if rows:
            table = to_table(rows, node_schema(label))
            self._run(f"COPY {label} FROM $t", {"t": table})
        return len(rows)

    def _copy_rels(self, rel: str, rows: list[dict[str, Any]]) -> int:
        if rows:
            table = to_table(rows, rel_schema(rel))
            self._run(f"COPY {rel} FROM $t", {"t": table})
        return len(rows)

    def _existing_keys(self, label: str, keys: Sequence[str] | pa.Array) -> set[str]:
        """The stored ones among ``keys`` (see :meth:`_stored_keys`)."""
        return set(self._stored_keys(label, keys).to_pylist()) if len(keys) else set()

    def _stored_keys(self, label: str, keys: Sequence[str] | pa.Array) -> pa.Array:
        """The stored ones among ``keys``, as Arrow. Against a table of at most
        ``SCAN_SHARE`` times as many nodes as keys, one scan of the stored keys
        and a hash look-up in Arrow; otherwise a primary-key look-up per key: keys
        in and out as Arrow (``LOAD FROM`` an Arrow table, ~4x faster than an
        ``UNWIND`` list parameter; keys, not nodes, out: ~20x faster)."""
        if not len(keys):
            return pa.array([], pa.string())
        key = NODE_BY_LABEL[label].key
        arrow = isinstance(keys, pa.Array | pa.ChunkedArray)
        # one chunk: LadybugDB's Arrow scan stops at an empty chunk
        table = pa.table({"k": keys if arrow else pa.array(list(keys), pa.string())})
        table = table.combine_chunks()
        stored = int(self._run(f"MATCH (n:{label}) RETURN count(n)")[0][0])
        if not stored:
            return pa.array([], pa.string())
        if stored <= SCAN_SHARE * len(keys):
            every = self._arrow_rows(f"MATCH (n:{label}) RETURN n.{key}").column(0)
            k = table.column(0)
            return k.filter(pc.is_in(k, every.cast(pa.string()))).combine_chunks()
        cypher = f"LOAD FROM $t MATCH (n:{label} {{{key}: k}}) RETURN n.{key}"
        res = self._conn.execute(cypher, {"t": table})
        if isinstance(res, list):  # one statement: never a list; narrows the type
            res = res[-1]
        found = res.get_as_arrow().column(0).combine_chunks().cast(pa.string())
        forget_arrow_statements(self._conn)
        return found

    def defer_checkpoints(self, every_s: float | None) -> None:
        """Checkpoint at most every ``every_s`` seconds (and on close) instead of
        after each large commit. LadybugDB checkpoints when a commit leaves more
        than 16 MiB of WAL, rewriting tables that grow with the graph: for big
        batches that was most of the write time. Commits stay durable (WAL);
        read-only openers in other processes see the data as of the last
        checkpoint. ``None`` goes back to the engine's automatic checkpoints."""
        self._require_writable()
        if getattr(self, "_checkpoint_every", None) and not every_s:
            self.checkpoint()
        self._checkpoint_every = every_s
        self._run(f"CALL auto_checkpoint={'false' if every_s else 'true'}")
        self._last_checkpoint = time.monotonic()

    def checkpoint(self) -> None:
        """Checkpoint now: the log into the data file. The engine holds what was
        written since the last checkpoint in memory (~25 MiB a 2,048-image flush)
        and frees it here; the freed memory goes back to the system."""
        self._require_writable()
        self._run("CHECKPOINT")
        self._last_checkpoint = time.monotonic()
        release_freed_memory()

    def _maybe_checkpoint(self) -> None:
        every = getattr(self, "_checkpoint_every", None)
        if every and time.monotonic() - self._last_checkpoint >= every:
            self.checkpoint()

    def _existing(self, label: str, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        if not keys:
            return {}
        key = NODE_BY_LABEL[label].key
        # a primary-key look-up per key (`WHERE n.key IN $keys` scans the table:
        # 45 ms for one image at 100k images, against 0.2 ms)
        cypher = f"UNWIND $keys AS k MATCH (n:{label} {{{key}: k}}) RETURN n"
        rows = self._run(cypher, {"keys": list(keys)})
        return {r[0][key]: r[0] for r in rows}

    # -- schema -------------------------------------------------------------
    def ensure_schema(self) -> None:
        """Create the tables and stamp the schema version in one transaction: a
        process killed while creating a KB leaves no tables at all (the next
        ``init`` or ``ingest`` creates them), never a stamp without its tables."""
        self._require_writable()
        with self._tx():
            for stmt in ladybug_ddl():
                self._run(stmt)
            self.set_meta("schema_version", str(SCHEMA_VERSION))

    # -- writes -------------------------------------------------------------
    def write(self, batch: GraphBatch) -> dict[str, int]:
        self._require_writable()
        if batch.images and not batch.captions:
            # new images (what an ingest flush mostly holds): planned as Arrow columns
            # and copied as they are, as `load` copies shards (the same rows as below)
            ids = pa.array([e.image.id for e in batch.images], pa.string())
            if not self._existing_keys("Image", ids):
                tables = plan_columns.columns(batch)
                if tables is not None:
                    return self._copy_planned(tables)
        plan = write_plan.plan_write(batch)
        counts: dict[str, int] = {}
        with self._tx():
            crow = plan.concepts
            have = self._existing_keys("Concept", [r["name"] for r in crow])
            counts["concepts"] = self._copy_nodes(
                "Concept", [r for r in crow if r["name"] not in have]
            )
            upd = [r for r in crow if r["name"] in have and r["concreteness"] is not None]
            if upd:
                self._run(W_SET_CONCRETENESS, {"rows": upd})
            old = self._existing("Image", [r["id"] for r in plan.images])
            counts["images"] = self._write_images(plan, old)
            stale = [k for k in plan.replace_elements if k in old]  # a new image has none
            if stale:
                self._run(W_DELETE_ELEMENTS_OF, {"ids": stale})
            counts["elements"] = self._copy_nodes("Element", plan.elements)
            self._copy_rels("HAS_ELEMENT", plan.has_element)
            self._copy_rels("IS", plan.is_rows)
            if plan.replace_evocations_only:
                self._run(W_DELETE_EVOKES_OF, {"ids": plan.replace_evocations_only})
            known = self._element_ids(plan.replace_evocations_only) | {
                r["id"] for r in plan.elements
            }
            counts["evokes"] = self._copy_rels(
                "EVOKES", [r for r in plan.evokes if r["from"] in known]
            )
            counts["dropped_evokes"] = len(plan.evokes) - counts["evokes"]
            counts["captions"] = self._write_captions(plan)
            counts["resolved_failures"] = self._resolve_failures(plan)
            have_f = self._existing("Failure", [r["id"] for r in plan.failures])
            counts["failures"] = self._copy_nodes(
                "Failure", [r for r in plan.failures if r["id"] not in have_f]
            )
            seen_again = [r for r in plan.failures if r["id"] in have_f]
            if seen_again:
                self._run(Q.W_FAILURE_SEEN_AGAIN, {"rows": seen_again})
        self._maybe_checkpoint()
        return counts

    def bulk_copy(self, tables: Sequence[tuple[str, pa.Table]], meta: dict[str, str]) -> None:
        """``COPY`` whole Arrow tables (graph table, rows in its column order) and
        set ``meta``, in one transaction. Only for rows not yet stored: COPY
        appends, and a duplicate key aborts the whole transaction."""
        self._require_writable()
        with self._tx():
            for name, table in tables:
                if table.num_rows:  # one chunk: the Arrow scan stops at an empty chunk
                    self._run(f"COPY {name} FROM $t", {"t": table.combine_chunks()})
            for k, v in sorted(meta.items()):
                self._run(Q.W_SET_META, {"k": k, "v": v})

    def write_new(self, tables: Mapping[str, pa.Table]) -> dict[str, int] | None:
        """The idempotent write of rows already planned (the shard tables of
        :mod:`evokegraph.graph.shards`, by file stem) when every image in them is
        new: one look-up of their ids, then ``COPY`` of the Arrow tables as they
        are, in one transaction; concepts and failures already stored are updated
        as :meth:`write` updates them, and failures the images resolve go. Image
        ids must be unique in ``tables``. Returns None, writing nothing, when any
        image is stored already (then :meth:`write` the records)."""
        self._require_writable()
        if self._existing_keys("Image", tables["images"]["id"]):
            return None
        return self._copy_planned(tables)

    def _copy_planned(self, tables: Mapping[str, pa.Table]) -> dict[str, int]:
        """:meth:`write_new` once no image of ``tables`` is found stored."""
        images = tables["images"]
        counts: dict[str, int] = {}
        with self._tx():
            concepts = tables["concepts"]
            stored = pc.is_in(concepts["name"], self._stored_keys("Concept", concepts["name"]))
            counts["concepts"] = self._copy_table("Concept", concepts.filter(pc.invert(stored)))
            upd = concepts.filter(pc.and_(stored, pc.is_valid(concepts["concreteness"])))
            if upd.num_rows:
                self._run(
                    W_SET_CONCRETENESS, {"rows": upd.select(["name", "concreteness"]).to_pylist()}
                )
            counts["images"] = self._copy_table("Image", images)
            elements = tables["elements"]
            counts["elements"] = self._copy_table("Element", elements)
            self._copy_table("HAS_ELEMENT", tables["has_element"])
            self._copy_table("IS", tables["is"])
            evokes = tables["evokes"]  # of the elements written only, as write() keeps them
            ok = plan_columns.kept(evokes, pc.is_in(evokes["from"], elements["id"]))
            counts["evokes"] = self._copy_table("EVOKES", self._with_stored_evokes(ok))
            counts["dropped_evokes"] = evokes.num_rows - ok.num_rows
            counts["captions"] = 0
            counts["resolved_failures"] = (
                self._resolve_failures(
                    write_plan.resolution(images.select(["id", "uris", "stage_keys"]).to_pylist())
                )
                if self._has_failures()
                else 0  # nothing stored to resolve (a look-up of every image's ids and uris spared)
            )
            failures = tables["failures"]
            again = pc.is_in(failures["id"], self._stored_keys("Failure", failures["id"]))
            counts["failures"] = self._copy_table("Failure", failures.filter(pc.invert(again)))
            seen_again = failures.filter(again).select(["id", "run", "at", "raw"]).to_pylist()
            if seen_again:
                self._run(Q.W_FAILURE_SEEN_AGAIN, {"rows": seen_again})
        self._maybe_checkpoint()
        return counts

    def _with_stored_evokes(self, new: pa.Table) -> pa.Table:
        """``new`` EVOKES rows, or, when they outnumber the stored ones, the stored
        rows and ``new`` into a table recreated empty (inside the transaction: a
        rollback restores it). LadybugDB's COPY into a non-empty relationship table
        merges into its stored adjacency lists and checkpoints them again, ~2.5x
        the cost of a COPY into an empty one; rewriting fewer stored rows than the
        new ones costs less (at most twice the new rows' own COPY)."""
        stored = int(self._run("MATCH ()-[r:EVOKES]->() RETURN count(r)")[0][0])
        if not stored or new.num_rows * REWRITE_SHARE <= stored:
            return new
        rows = self._arrow_rows(Q_EVOKES_STORED).cast(new.schema)
        self._run("DROP TABLE EVOKES")
        self._run(_EVOKES_DDL)
        return pa.concat_tables([rows, new]).combine_chunks()

    def _copy_table(self, name: str, table: pa.Table) -> int:
        if table.num_rows:  # one chunk: the Arrow scan stops at an empty chunk
            self._run(f"COPY {name} FROM $t", {"t": table.combine_chunks()})
        return int(table.num_rows)

    def _has_failures(self) -> bool:
        return bool(self._run("MATCH (f:Failure) RETURN count(f)")[0][0])

    def _resolve_failures(self, plan: write_plan.WritePlan) -> int:
        params = plan.failures_params()
        if params is None or not self._has_failures():
            return 0
        ids = plan.resolved_failure_ids(self._dicts(Q.Q_FAILURES_OF, params))
        if ids:
            self._run(Q.W_DELETE_FAILURES, {"ids": ids})
        return len(ids)

    def _element_ids(self, image_ids: Sequence[str]) -> set[str]:
        if not image_ids:
            return set()
        rows = self._run(Q_ELEMENT_IDS_OF, {"ids": list(image_ids)})
        return {r[0] for r in rows}

    def _write_images(self, plan: write_plan.WritePlan, old: dict[str, dict[str, Any]]) -> int:
        new = [r for r in plan.images if r["id"] not in old]
        self._copy_nodes("Image", new)
        upd = [
            write_plan.merge_image_row(old[r["id"]], r, plan) for r in plan.images if r["id"] in old
        ]
        if upd:
            self._run(
                "UNWIND $rows AS r MATCH (i:Image {id: r.id}) "
                "SET i.uris = r.uris, i.width = r.width, i.height = r.height, "
                "i.format = r.format, i.split = r.split, i.captions = r.captions, "
                "i.description = r.description, i.stage_keys = r.stage_keys",
                {"rows": upd},
            )
        return len(new)

    def _write_captions(self, plan: write_plan.WritePlan) -> int:
        have = self._existing("Caption", [r["id"] for r in plan.captions])
        new = [r for r in plan.captions if r["id"] not in have]
        ids = {r["id"] for r in new}
        self._copy_nodes("Caption", new)
        images = set(self._existing("Image", list({r["image_id"] for r in new})))
        self._copy_rels(
            "DESCRIBES",
            [{"from": r["id"], "to": r["image_id"]} for r in new if r["image_id"] in images],
        )
        self._copy_rels("USES", [r for r in plan.uses if r["from"] in ids])
        return len(new)

    def record_run(self, run: RunRecord) -> None:
        self._require_writable()
        row = R.run_row(run)
        sets = ", ".join(f"n.{k} = $r.{k}" for k in row if k != "id")
        self._run(f"MERGE (n:Run {{id: $r.id}}) SET {sets}", {"r": row})

    # -- reads --------------------------------------------------------------
    def runs(self) -> list[RunRecord]:
        rows = self._run("MATCH (n:Run) RETURN n ORDER BY n.started")
        return [R.run_from_row(r[0]) for r in rows]

    def stats(self) -> Stats:
        counts: dict[str, int] = {}
        for label, name in schema.STAT_NODES:
            counts[name] = self._run(f"MATCH (n:{label}) RETURN count(n)")[0][0]
        for rel, name in schema.STAT_RELS:
            counts[name] = self._run(f"MATCH ()-[r:{rel}]->() RETURN count(r)")[0][0]
        return Stats(**counts)

    def image_ids(self) -> list[str]:
        # one Arrow column sorted by pyarrow: ~5x faster than the engine's ORDER BY
        ids = self._arrow_rows("MATCH (i:Image) RETURN i.id AS id").column("id")
        return cast(list[str], ids.take(pc.sort_indices(ids)).to_pylist())

    def stage_keys(self, image_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        return {k: keys for k, (_, keys) in self.image_records(image_ids).items()}

    def image_records(
        self, image_ids: Sequence[str]
    ) -> dict[str, tuple[ImageRecord, dict[str, str]]]:
        """Stored records and stage keys, read as columns (an Arrow table of the
        properties, not node dicts: the look-up every run makes per batch)."""
        if not image_ids:
            return {}
        table = pa.table({"k": pa.array(list(image_ids), pa.string())}).combine_chunks()
        res = self._conn.execute(Q_IMAGE_PROPS, {"t": table})
        if isinstance(res, list):  # one statement: never a list; narrows the type
            res = res[-1]
        rows = res.get_as_arrow().to_pylist()
        forget_arrow_statements(self._conn)
        return {r["id"]: R.image_record(r) for r in rows}

    def get_image(self, image_id: str) -> ImageView | None:
        img = self._existing("Image", [image_id]).get(image_id)
        if img is None:
            return None
        elements = self._dicts(Q.Q_IMAGE_ELEMENTS, {"id": image_id})
        evokes = self._dicts(Q.Q_IMAGE_EVOKES, {"id": image_id})
        return R.image_view(img, elements, evokes, self._captions_of(image_id))

    def _captions_of(self, image_id: str) -> list[dict[str, Any]]:
        """Q_IMAGE_CAPTIONS' rows in two plain reads (H24): its OPTIONAL MATCH and
        collect plan to ~40 operators, 1-2.4 ms a call even for an image without
        captions (every image page); the captions alone take 0.2 ms, their USES
        edges are read only when there are captions."""
        captions = self._dicts(Q_CAPTIONS_OF_IMAGE, {"id": image_id})
        if captions:
            uses: dict[str, list[str]] = {c["id"]: [] for c in captions}
            for caption, concept in self._run(Q_CAPTION_USES, {"id": image_id}):
                uses[caption].append(concept)
            for c in captions:
                c["uses"] = uses[c["id"]]
        return captions

    def _shared(self, concepts: Iterable[str], max_distance: int) -> dict[str, list[Edge]]:
        names = sorted(concepts)
        k = reads.SHARED_PER_SOURCE
        net = network_index.network(self, len(names))  # in memory once it pays (see there)
        if net is not None:  # rows already in reads.shared_edges' order, k at most
            found = ((n, net.shared_rows(n, max_distance, k)) for n in names)
            return {
                n: [Edge(r[0], r[1], r[2], r[3], r[4] or "NOUN") for r in rows]
                for n, rows in found
                if rows
            }
        rows: list[list[Any]] = []
        for name in names:
            rows += self._run(Q.Q_SHARED_TOP, {"name": name, "maxd": max_distance, "k": k})
        return reads.shared_edges(rows)

    def failures(self, run: str | None = None) -> list[Failure]:
        if run:
            rows = self._run(
                "MATCH (f:Failure) WHERE f.run = $run RETURN f ORDER BY f.at", {"run": run}
            )
        else:
            rows = self._run("MATCH (f:Failure) RETURN f ORDER BY f.at")
        return [R.failure_from_row(r[0]) for r in rows]

    # -- maintenance --------------------------------------------------------
    def delete_image(self, image_id: str) -> bool:
        self._require_writable()
        if not self._existing("Image", [image_id]):
            return False
        with self._tx():
            touched = [r[0] for r in self._run(Q.Q_TOUCHED_CONCEPTS, {"id": image_id})]
            sources = [r[0] for r in self._run(Q.Q_ELEMENT_CONCEPTS, {"id": image_id})]
            for stmt in Q.DELETE_IMAGE:
                self._run(stmt, {"id": image_id})
            self._run(Q.DELETE_ORPHAN_CONCEPTS, {"names": touched})
            self._recompute(sources)
        return True

    def recompute_associations(self, concepts: Iterable[str] | None = None) -> int:
        self._require_writable()
        names = None if concepts is None else sorted(set(concepts))
        if names is None or len(names) > FEW_CONCEPTS:
            return self._rebuild_bounded()
        with self._tx():
            return self._recompute(names)

    def _recompute(self, concepts: list[str] | None) -> int:
        """ASSOCIATED_WITH out of ``concepts`` (None: all) rebuilt from their EVOKES
        rows, read as Arrow tables (all: by ranges of concepts) and aggregated in
        numpy (:func:`~evokegraph.graph.write_plan.aggregate_table`, exact sums),
        inside the caller's transaction."""
        if concepts is not None and len(concepts) > FEW_CONCEPTS:
            concepts = None  # most of the graph: rebuilding all gives the same edges, faster
        if concepts is None:
            self._new_aw_table()
            for lo, hi, _ in self._aw_ranges():
                if self._copy_aw_range(lo, hi) is None:
                    break
            else:
                if self._aw_complete():
                    return self._aw_count()
            return self._rebuild_in_one_read()
        if not concepts:
            return 0
        self._run(W_DELETE_AW_OF, {"names": concepts})
        evokes = self._arrow_rows(Q_EVOKES_ROWS_SOME, {"names": concepts})
        return self._copy_table("ASSOCIATED_WITH", write_plan.aggregate_table(evokes))

    def _rebuild_bounded(self) -> int:
        """Every ASSOCIATED_WITH edge rebuilt, a range of source concepts per
        transaction (see :meth:`_aw_ranges`), checkpointed after each: the memory
        the engine holds for uncommitted rows and their checkpoint is one range's,
        not the whole table's. The first transaction empties the table and sets
        the Meta key ``associations_dirty`` to "1"; the last one puts back its
        value from before: a rebuild killed half way leaves the key at "1", and
        the next ingest or load rebuilds the table whole."""
        before = self.get_meta(schema.AW_DIRTY)
        done: int | None = 0
        for k, group in enumerate(self._aw_tx_groups()):
            with self._tx():
                if k == 0:
                    self.set_meta(schema.AW_DIRTY, "1")
                    self._new_aw_table()
                for lo, hi, _ in group:
                    done = self._copy_aw_range(lo, hi)
                    if done is None:
                        break
            self.checkpoint()
            if done is None:
                break
        else:
            if self._aw_complete():
                with self._tx():
                    self._put_back_meta(schema.AW_DIRTY, before)
                return self._aw_count()
        with self._tx():
            self._rebuild_in_one_read()
            self._put_back_meta(schema.AW_DIRTY, before)
        return self._aw_count()

    def _put_back_meta(self, key: str, value: str | None) -> None:
        """The Meta key ``key`` as it was: ``value``, or no such key."""
        if value is None:
            self._run("MATCH (m:Meta {key: $k}) DELETE m", {"k": key})
        else:
            self.set_meta(key, value)

    def _new_aw_table(self) -> None:
        # a new empty table: deleting millions of edges one by one took longer than
        # the whole rebuild (DDL is transactional here: a rollback restores)
        self._run("DROP TABLE ASSOCIATED_WITH")
        self._run(_AW_DDL)

    def _aw_tx_groups(self) -> list[list[tuple[str, str, int]]]:
        """:meth:`_aw_ranges` in groups of at most :data:`AW_TX_ELEMENTS` elements
        (a bigger range alone), one transaction each."""
        ranges = self._aw_ranges()
        groups = write_plan.in_groups([r[2] for r in ranges], AW_TX_ELEMENTS)
        return [[ranges[i] for i in group] for group in groups]

    def _aw_ranges(self) -> list[tuple[str, str, int]]:
        """Ranges of source concepts, contiguous in the byte order Arrow sorts names
        in, of about :data:`AW_CHUNK_ELEMENTS` elements each (one range when there
        are fewer). An edge is aggregated from its source's rows alone, and each
        range's edges come sorted as the whole table's would, so the ranges copied
        one after the other give the table that one read of every row gives, in
        the same order."""
        self._aw_rows_read = 0
        per = self._arrow_rows(Q_ELEMENTS_PER_CONCEPT)
        per = per.take(pc.sort_indices(per, [("concept", "ascending")]))
        names, sizes = per["concept"].to_pylist(), per["n"].to_numpy()
        if len(names) <= 1 or int(sizes.sum()) <= AW_CHUNK_ELEMENTS:
            return [("", "", int(sizes.sum()))]  # one read of every row (see _copy_aw_range)
        ends = np.flatnonzero(np.diff(np.cumsum(sizes) // AW_CHUNK_ELEMENTS)).tolist()
        bounds = zip([0, *(e + 1 for e in ends)], [*ends, len(names) - 1], strict=True)
        return [(names[a], names[b], int(sizes[a : b + 1].sum())) for a, b in bounds]

    _aw_rows_read = 0

    def _copy_aw_range(self, lo: str, hi: str) -> int | None:
        """The edges out of the concepts ``lo``..``hi`` copied (("", ""): of every
        concept, one read); None, copying nothing, when the engine's string order
        put a row outside the range (the rebuild then starts again from one read)."""
        if (lo, hi) == ("", ""):
            part = self._arrow_rows(Q_EVOKES_ROWS_ALL)
        else:
            part = self._arrow_rows(Q_EVOKES_ROWS_RANGE, {"lo": lo, "hi": hi})
            src = part["source"]
            inside = pc.and_(pc.greater_equal(src, lo), pc.less_equal(src, hi))
            if not pc.all(inside, min_count=0).as_py():
                return None
        self._aw_rows_read += part.num_rows
        return self._copy_table("ASSOCIATED_WITH", write_plan.aggregate_table(part))

    def _aw_complete(self) -> bool:
        """Every EVOKES row was read by the ranges (none missed by the string order)."""
        return self._aw_rows_read == int(self._run(Q_COUNT_EVOKES)[0][0])

    def _aw_count(self) -> int:
        return int(self._run("MATCH ()-[r:ASSOCIATED_WITH]->() RETURN count(r)")[0][0])

    def _rebuild_in_one_read(self) -> int:
        """The whole table from one read of every EVOKES row (the ranges' fallback)."""
        self._new_aw_table()
        evokes = self._arrow_rows(Q_EVOKES_ROWS_ALL)
        return self._copy_table("ASSOCIATED_WITH", write_plan.aggregate_table(evokes))

    def _arrow_rows(self, cypher: str, params: dict[str, Any] | None = None) -> pa.Table:
        res = self._conn.execute(cypher, params or {})
        if isinstance(res, list):  # one statement: never a list; narrows the type
            res = res[-1]
        return res.get_as_arrow(chunk_size=1_000_000)

    # -- user Cypher --------------------------------------------------------
    def query(
        self, cypher: str, params: dict[str, Any] | None = None, *, write: bool = False
    ) -> list[dict[str, Any]]:
        if not write and is_write_query(cypher):
            raise ReadOnlyQueryError("refusing a query that writes; pass write=True to allow it")
        if write:
            self._require_writable()
        query_limits.check_user_cypher(cypher)  # H24: refuse what crashes the engine
        try:
            return R.jsonable_rows(*self._columns_and_rows(cypher, params))  # H24f: one pass
        except RuntimeError as exc:
            if query_limits.is_stopped(exc):
                raise query_limits.stopped_error(self._timeout_s) from None
            raise UserInputError(f"query failed: {str(exc).splitlines()[0]}") from None
        finally:
            if write:
                self._writes[0] += 1

    def reader(self, timeout_s: float | None = None, threads: int | None = None) -> LadybugStore:
        """A handle for one thread's reads beside others (H24, query limits): its
        own connection on the same open database; each of its queries stops
        after ``timeout_s`` and runs on at most ``threads`` threads (default: the
        engine's, every core); closing it closes only that connection."""
        import ladybug

        if self._db is None:
            raise StoreError("a reader needs the store that opened the database")
        clone = copy.copy(self)
        clone._conn = ladybug.Connection(self._db)
        clone._db = None
        clone._checkpoint_every = None
        clone._timeout_s = timeout_s
        if timeout_s:
            clone._conn.set_query_timeout(max(1, round(timeout_s * 1000)))
        if threads:
            clone._conn.set_max_threads_for_exec(threads)
        return clone

    def interrupt(self) -> None:
        """Stop the query running on this handle's connection (from another thread)."""
        if self._conn is not None:
            self._conn.interrupt()
