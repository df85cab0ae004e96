"""Neo4j 5 backend through the official ``neo4j`` driver.

Writes: one managed write transaction per batch; inside it, ``UNWIND $rows``
+ ``MERGE`` on uniqueness constraints, in chunks of ``batch_size`` rows
(default 5,000). No APOC. Labels and types come from the fixed schema; every
value is a parameter. ``neo4j-rust-ext`` speeds the driver up when installed
(it replaces the driver's packstream codec; nothing to configure).

Only the small :class:`Driver`-shaped surface below is used, so the unit tests
hand in a recording stand-in and assert the exact queries and parameters.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from evokegraph.errors import (
    NotAKnowledgeBaseError,
    ReadOnlyQueryError,
    SchemaVersionError,
    StoreError,
    UserInputError,
)
from evokegraph.graph import cypher_text as Q
from evokegraph.graph import query_limits, reads, schema, write_plan
from evokegraph.graph import rows as R
from evokegraph.graph.protocol import is_write_query
from evokegraph.graph.schema import NODE_BY_LABEL, SCHEMA_VERSION, neo4j_ddl
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
    from evokegraph.graph.backend_options import Neo4jOptions

Stmt = tuple[str, dict[str, Any]]
log = logging.getLogger(__name__)

# -- write statements (constants; values are parameters) ----------------------
W_CONCEPTS = (
    "UNWIND $rows AS r MERGE (c:Concept {name: r.name}) "
    "ON CREATE SET c.pos = r.pos "
    "SET c.concreteness = coalesce(r.concreteness, c.concreteness)"
)
W_IMAGES = "UNWIND $rows AS r MERGE (i:Image {id: r.id}) SET i += r"
W_DELETE_ELEMENTS = (
    "UNWIND $ids AS k MATCH (:Image {id: k})-[:HAS_ELEMENT]->(e:Element) DETACH DELETE e"
)
W_ELEMENTS = (
    "UNWIND $rows AS r MATCH (i:Image {id: r.image_id}) MATCH (c:Concept {name: r.concept}) "
    "MERGE (e:Element {id: r.id}) SET e += r "
    "MERGE (i)-[:HAS_ELEMENT]->(e) MERGE (e)-[:IS]->(c)"
)
W_DELETE_EVOKES = (
    "UNWIND $ids AS k MATCH (:Image {id: k})-[:HAS_ELEMENT]->(e:Element) "
    "MATCH (e)-[v:EVOKES]->(:Concept) DELETE v"
)
W_EVOKES = (
    "UNWIND $rows AS r MATCH (e:Element {id: r.from}) MATCH (c:Concept {name: r.to}) "
    "MERGE (e)-[v:EVOKES {distance: r.distance}]->(c) "
    "SET v.weight = r.weight, v.rank = r.rank, v.surface = r.surface, "
    "v.grounding = r.grounding, v.run = r.run"
)
W_CAPTIONS = (
    "UNWIND $rows AS r MERGE (c:Caption {id: r.id}) ON CREATE SET c += r "
    "WITH c, r MATCH (i:Image {id: r.image_id}) MERGE (c)-[:DESCRIBES]->(i)"
)
W_USES = (
    "UNWIND $rows AS r MATCH (c:Caption {id: r.from}) MATCH (k:Concept {name: r.to}) "
    "MERGE (c)-[:USES]->(k)"
)
W_FAILURES = "UNWIND $rows AS r MERGE (f:Failure {id: r.id}) SET f += r"
W_ASSOCIATED = (
    "UNWIND $rows AS r MATCH (a:Concept {name: r.from}) MATCH (b:Concept {name: r.to}) "
    "MERGE (a)-[w:ASSOCIATED_WITH {distance: r.distance}]->(b) "
    "SET w.weight = r.weight, w.support = r.support"
)
W_DELETE_ASSOCIATED_ALL = "MATCH ()-[w:ASSOCIATED_WITH]->() DELETE w"
W_DELETE_ASSOCIATED_SOME = (
    "UNWIND $names AS k MATCH (:Concept {name: k})-[w:ASSOCIATED_WITH]->(:Concept) DELETE w"
)
W_RUN = "MERGE (n:Run {id: $r.id}) SET n += $r"
W_WIPE = "MATCH (n) WITH n LIMIT 10000 DETACH DELETE n RETURN count(*) AS n"


WRITE_ATTEMPTS = 8
_T = TypeVar("_T")


def backoff(attempt: int) -> float:
    """Seconds to wait before retry ``attempt + 1``: 50 ms doubling, jittered, <= 2 s."""
    return min(2.0, 0.05 * 2.0 ** (attempt - 1)) * random.uniform(0.5, 1.5)


def _chunks(rows: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


class Neo4jStore(reads.SharedReads):
    """:class:`~evokegraph.graph.store.GraphStore` over a Neo4j 5 server."""

    backend = "neo4j"
    _timeout_s: float | None = None  # a reader's query time limit (H24: reader())
    _borrowed = False  # a reader: close() leaves the driver open

    def __init__(
        self,
        driver: Any,
        *,
        database: str | None = None,
        batch_size: int = 5000,
        create: bool = False,
        uri: str = "",
    ) -> None:
        if batch_size < 1:
            raise UserInputError(f"batch size must be >= 1, got {batch_size}")
        self._driver = driver
        self.database = database
        self.batch_size = batch_size
        self.uri = uri
        self.write_retries = 0  # conflicting transactions rerun (concurrent writers)
        self.rust_ext = importlib.util.find_spec("neo4j._rust") is not None
        self.server_version = self._detect_version()
        self.server_agent = self._detect_agent()
        self.schema_version = self._schema_version()
        if self.schema_version == 0:
            if not create:
                raise NotAKnowledgeBaseError(
                    f"the Neo4j database at {uri or 'the given URI'} holds no evokegraph schema; "
                    "run `evokegraph --backend neo4j init` first"
                )
            self.ensure_schema()
        elif self.schema_version > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"the Neo4j database has schema version {self.schema_version}, newer than this "
                f"evokegraph supports ({SCHEMA_VERSION}); upgrade evokegraph"
            )

    @classmethod
    def from_options(cls, options: Neo4jOptions, *, read_only: bool, create: bool) -> Neo4jStore:
        """The registry's opener (:mod:`evokegraph.graph.backends`); the server
        enforces access, so ``read_only`` only matters to user Cypher."""
        if not options.uri:
            raise UserInputError(
                "the neo4j backend needs a URI; pass --neo4j-uri or set EVOKEGRAPH_NEO4J_URI"
            )
        return cls.connect(
            options.uri,
            options.user,
            options.password,
            database=options.database,
            batch_size=options.batch_size,
            create=create,
        )

    @classmethod
    def connect(
        cls,
        uri: str,
        user: str,
        password: str,
        *,
        database: str | None = None,
        batch_size: int = 5000,
        create: bool = False,
    ) -> Neo4jStore:
        import neo4j

        try:
            driver = neo4j.GraphDatabase.driver(uri, auth=(user, password))
            driver.verify_connectivity()
        except Exception as exc:  # driver raises many types: one clear line
            raise StoreError(
                f"cannot reach Neo4j at {uri}: {type(exc).__name__}: {str(exc).splitlines()[0]}; "
                "check --neo4j-uri, --neo4j-user and --neo4j-password"
            ) from None
        try:
            return cls(driver, database=database, batch_size=batch_size, create=create, uri=uri)
        except BaseException:
            driver.close()
            raise

    # -- plumbing -----------------------------------------------------------
    def __enter__(self) -> Neo4jStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._borrowed:  # a reader: the driver is its store's
            return
        if self._driver is not None:
            self._driver.close()
            self._driver = None

    def _read(self, cypher: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        import neo4j

        records, _, _ = self._driver.execute_query(
            cypher, params or {}, database_=self.database, routing_=neo4j.RoutingControl.READ
        )
        return [dict(r.items()) if hasattr(r, "items") else dict(r) for r in records]

    def _dict_rows(self, cypher: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return self._read(cypher, params)

    def _rows(self, cypher: str, params: dict[str, Any] | None = None) -> list[list[Any]]:
        return [list(r.values()) for r in self._read(cypher, params)]

    def _write_tx(self, work: Callable[[Any], _T]) -> _T:
        """Run ``work`` in a managed write transaction, retried on conflicts.

        The driver retries transient errors itself; a concurrent writer that
        loses a ``MERGE`` race on a unique key gets a ``ConstraintError``
        instead (ArcadeDB; Neo4j serialises such MERGEs). Both are retried
        with jittered exponential backoff: ``work`` reads before it writes, so
        a rerun sees the winner's nodes and merges into them.
        """
        import neo4j

        retry = (neo4j.exceptions.ConstraintError, neo4j.exceptions.TransientError)
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                with self._driver.session(database=self.database) as session:
                    done: _T = session.execute_write(work)
                    return done
            except retry as exc:
                if attempt == WRITE_ATTEMPTS:
                    raise StoreError(
                        f"a write to {self.uri or 'Neo4j'} still conflicted after {attempt} "
                        f"attempts: {str(exc).splitlines()[0]}; retry the command"
                    ) from None
                self.write_retries += 1
                log.info("write conflict (%s), retry %d", type(exc).__name__, attempt)
                time.sleep(backoff(attempt))
        raise AssertionError("unreachable")

    def _detect_agent(self) -> str:
        """The server's Bolt agent, e.g. "Neo4j/5.26.0" or "Neo4j/5.26.0 compatible
        (ArcadeDB 26.10.2)": ``dbms.components()`` reports "Neo4j Kernel" on both."""
        try:
            return str(self._driver.get_server_info().agent)
        except Exception:  # a stand-in driver, or a server that does not say
            return f"Neo4j/{self.server_version}"

    @property
    def is_neo4j(self) -> bool:
        """False on Bolt servers that only speak Neo4j's protocol (ArcadeDB):
        Neo4j-only features (FULLTEXT/VECTOR indexes, APOC) are unavailable there."""
        return "compatible" not in self.server_agent

    def _detect_version(self) -> str:
        rows = self._read("CALL dbms.components() YIELD name, versions RETURN versions[0] AS v")
        version = str(rows[0]["v"]) if rows else "unknown"
        major = version.split(".")[0]
        if major.isdigit() and int(major) < 5:
            raise StoreError(f"Neo4j {version} is too old; evokegraph needs Neo4j 5 or newer")
        return version

    def _schema_version(self) -> int:
        return int(self.get_meta("schema_version") or 0)

    def get_meta(self, key: str) -> str | None:
        rows = self._read(Q.Q_GET_META, {"k": key})
        return rows[0]["v"] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self._write_tx(lambda tx: tx.run(Q.W_SET_META, {"k": key, "v": value}).consume())

    # -- schema -------------------------------------------------------------
    def ensure_schema(self) -> None:
        for stmt in neo4j_ddl():
            self._driver.execute_query(stmt, {}, database_=self.database)
        self.set_meta("schema_version", str(SCHEMA_VERSION))
        self.schema_version = SCHEMA_VERSION

    def wipe(self) -> None:
        """Delete every node (tests only: point them at a throwaway database)."""
        while True:
            rows = self._driver.execute_query(W_WIPE, {}, database_=self.database)[0]
            if not rows or rows[0]["n"] == 0:
                break

    # -- writes -------------------------------------------------------------
    def _unwind(self, tx: Any, cypher: str, key: str, rows: Sequence[Any]) -> None:
        for chunk in _chunks(rows, self.batch_size):
            tx.run(cypher, {key: list(chunk)}).consume()

    @staticmethod
    def _existing(tx: Any, label: str, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        if not keys:
            return {}
        key = NODE_BY_LABEL[label].key
        res = tx.run(
            f"UNWIND $keys AS k MATCH (n:{label} {{{key}: k}}) RETURN properties(n) AS n",
            {"keys": list(keys)},
        )
        return {r["n"][key]: r["n"] for r in res}

    def write(self, batch: GraphBatch) -> dict[str, int]:
        plan = write_plan.plan_write(batch)
        return self._write_tx(lambda tx: self._write_plan(tx, plan))

    def _write_plan(self, tx: Any, plan: write_plan.WritePlan) -> dict[str, int]:
        counts: dict[str, int] = {}
        have = self._existing(tx, "Concept", [r["name"] for r in plan.concepts])
        counts["concepts"] = sum(r["name"] not in have for r in plan.concepts)
        self._unwind(tx, W_CONCEPTS, "rows", plan.concepts)
        old = self._existing(tx, "Image", [r["id"] for r in plan.images])
        rows = [
            write_plan.merge_image_row(old[r["id"]], r, plan) if r["id"] in old else r
            for r in plan.images
        ]
        counts["images"] = len(plan.images) - len(old)
        self._unwind(tx, W_IMAGES, "rows", rows)
        self._unwind(tx, W_DELETE_ELEMENTS, "ids", plan.replace_elements)
        self._unwind(tx, W_ELEMENTS, "rows", plan.elements)
        counts["elements"] = len(plan.elements)
        self._unwind(tx, W_DELETE_EVOKES, "ids", plan.replace_evocations_only)
        self._unwind(tx, W_EVOKES, "rows", plan.evokes)
        counts["evokes"] = len(plan.evokes)
        have_c = self._existing(tx, "Caption", [r["id"] for r in plan.captions])
        counts["captions"] = sum(r["id"] not in have_c for r in plan.captions)
        self._unwind(tx, W_CAPTIONS, "rows", plan.captions)
        self._unwind(tx, W_USES, "rows", plan.uses)
        params = plan.failures_params()
        if params is not None:
            stored = [r.data() for r in tx.run(Q.Q_FAILURES_OF, params)]
            resolved = plan.resolved_failure_ids(stored)
            counts["resolved_failures"] = len(resolved)
            self._unwind(tx, Q.W_DELETE_FAILURES, "ids", resolved)
        have_f = self._existing(tx, "Failure", [r["id"] for r in plan.failures])
        counts["failures"] = sum(r["id"] not in have_f for r in plan.failures)
        self._unwind(tx, W_FAILURES, "rows", plan.failures)
        return counts

    def record_run(self, run: RunRecord) -> None:
        self._write_tx(lambda tx: tx.run(W_RUN, {"r": R.run_row(run)}).consume())

    # -- reads --------------------------------------------------------------
    def runs(self) -> list[RunRecord]:
        rows = self._read("MATCH (n:Run) RETURN properties(n) AS n ORDER BY n.started")
        return [R.run_from_row(r["n"]) for r in rows]

    def stats(self) -> Stats:
        counts: dict[str, int] = {}
        for label, name in schema.STAT_NODES:
            counts[name] = self._read(f"MATCH (n:{label}) RETURN count(n) AS n")[0]["n"]
        for rel, name in schema.STAT_RELS:
            counts[name] = self._read(f"MATCH ()-[r:{rel}]->() RETURN count(r) AS n")[0]["n"]
        return Stats(**counts)

    def image_ids(self) -> list[str]:
        return [r["id"] for r in self._read("MATCH (i:Image) RETURN i.id AS id ORDER BY id")]

    def stage_keys(self, image_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        rows = self._read(
            "UNWIND $ids AS k MATCH (i:Image {id: k}) RETURN i.id AS id, i.stage_keys AS keys",
            {"ids": list(image_ids)},
        )
        return {r["id"]: json.loads(r["keys"] or "{}") for r in rows}

    def image_records(
        self, image_ids: Sequence[str]
    ) -> dict[str, tuple[ImageRecord, dict[str, str]]]:
        rows = self._read(
            "UNWIND $ids AS k MATCH (i:Image {id: k}) RETURN properties(i) AS n",
            {"ids": list(image_ids)},
        )
        return {r["n"]["id"]: R.image_record(r["n"]) for r in rows}

    def get_image(self, image_id: str) -> ImageView | None:
        rows = self._read("MATCH (i:Image {id: $id}) RETURN properties(i) AS n", {"id": image_id})
        if not rows:
            return None
        return R.image_view(
            rows[0]["n"],
            self._read(Q.Q_IMAGE_ELEMENTS, {"id": image_id}),
            self._read(Q.Q_IMAGE_EVOKES, {"id": image_id}),
            self._read(Q.Q_IMAGE_CAPTIONS, {"id": image_id}),
        )

    def _shared(self, concepts: Iterable[str], max_distance: int) -> dict[str, list[Edge]]:
        rows = self._rows(Q.Q_SHARED, {"names": sorted(concepts), "maxd": max_distance})
        return reads.shared_edges(rows)

    def failures(self, run: str | None = None) -> list[Failure]:
        if run:
            rows = self._read(
                "MATCH (f:Failure) WHERE f.run = $run RETURN properties(f) AS f ORDER BY f.at",
                {"run": run},
            )
        else:
            rows = self._read("MATCH (f:Failure) RETURN properties(f) AS f ORDER BY f.at")
        return [R.failure_from_row(r["f"]) for r in rows]

    # -- maintenance --------------------------------------------------------
    def delete_image(self, image_id: str) -> bool:
        def work(tx: Any) -> bool:
            if not self._existing(tx, "Image", [image_id]):
                return False
            touched = [r["name"] for r in tx.run(Q.Q_TOUCHED_CONCEPTS, {"id": image_id})]
            sources = [r["concept"] for r in tx.run(Q.Q_ELEMENT_CONCEPTS, {"id": image_id})]
            for stmt in Q.DELETE_IMAGE:
                tx.run(stmt, {"id": image_id}).consume()
            tx.run(Q.DELETE_ORPHAN_CONCEPTS, {"names": touched}).consume()
            self._recompute(tx, sources)
            return True

        return bool(self._write_tx(work))

    def recompute_associations(self, concepts: Iterable[str] | None = None) -> int:
        names = None if concepts is None else sorted(set(concepts))
        return int(self._write_tx(lambda tx: self._recompute(tx, names)))

    def _recompute(self, tx: Any, names: list[str] | None) -> int:
        if names is None:
            tx.run(W_DELETE_ASSOCIATED_ALL).consume()
            rows = [dict(r.items()) for r in tx.run(Q.Q_AGGREGATE_ALL)]
        else:
            if not names:
                return 0
            tx.run(W_DELETE_ASSOCIATED_SOME, {"names": names}).consume()
            rows = [dict(r.items()) for r in tx.run(Q.Q_AGGREGATE_SOME, {"names": names})]
        agg = write_plan.aggregate_rows(rows)
        self._unwind(tx, W_ASSOCIATED, "rows", agg)
        return len(agg)

    # -- user Cypher --------------------------------------------------------
    def query(
        self, cypher: str, params: dict[str, Any] | None = None, *, write: bool = False
    ) -> list[dict[str, Any]]:
        if not write and is_write_query(cypher):
            raise ReadOnlyQueryError("refusing a query that writes; pass write=True to allow it")
        import neo4j

        routing = neo4j.RoutingControl.WRITE if write else neo4j.RoutingControl.READ
        timeout_s = self._timeout_s
        text = neo4j.Query(cypher, timeout=timeout_s) if timeout_s else cypher
        try:
            records, _, _ = self._driver.execute_query(
                text, params or {}, database_=self.database, routing_=routing
            )
        except neo4j.exceptions.Neo4jError as exc:
            if query_limits.is_stopped(exc):
                raise query_limits.stopped_error(timeout_s) from None
            raise UserInputError(f"query failed: {str(exc).splitlines()[0]}") from None
        return [R.jsonable(dict(r.items())) for r in records]

    def reader(self, timeout_s: float | None = None, threads: int | None = None) -> Neo4jStore:
        """A handle for one thread's reads beside others (H24, query limits): the
        same thread-safe driver; each query() runs in a transaction the server
        stops after ``timeout_s``; closing it leaves the driver open. ``threads``
        is the server's business here (accepted for the common signature)."""
        clone = copy.copy(self)
        clone._timeout_s = timeout_s
        clone._borrowed = True
        return clone

    def interrupt(self) -> None:
        """Nothing to do from another thread: the driver has no cancel; the
        transaction timeout of :meth:`reader` stops the query on the server."""
