"""Portable Cypher the two backends share (LadybugDB and Neo4j 5 accept it unchanged).

The texts are constants built only from the fixed schema; every value travels
as a parameter (checked by the contract suite on both backends).
"""

from __future__ import annotations

W_FAILURE_SEEN_AGAIN = (
    "UNWIND $rows AS r MATCH (f:Failure {id: r.id}) SET f.run = r.run, f.at = r.at, f.raw = r.raw"
)
# Failures a write resolves: an image that now passes a stage drops that
# stage's failures (and a decoded image its decode failures, recorded by uri).
Q_FAILURES_OF = (
    "MATCH (f:Failure) WHERE f.image_id IN $ids OR (f.stage = 'decode' AND f.uri IN $uris) "
    "RETURN f.id AS id, f.image_id AS image_id, f.uri AS uri, f.stage AS stage ORDER BY id"
)
W_DELETE_FAILURES = "UNWIND $ids AS k MATCH (f:Failure {id: k}) DELETE f"
Q_GET_META = "MATCH (m:Meta {key: $k}) RETURN m.value AS v"
W_SET_META = "MERGE (m:Meta {key: $k}) SET m.value = $v"
Q_ELEMENT_CONCEPTS = (
    "MATCH (i:Image {id: $id})-[:HAS_ELEMENT]->(e:Element) RETURN e.concept AS concept"
)
_EVOKES_OF_IMAGE = (
    "MATCH (i:Image {id: $id})-[:HAS_ELEMENT]->(e:Element) MATCH (e)-[v:EVOKES]->(c:Concept) "
)
_EVOKES_RETURN = "RETURN e.concept AS element, c.name AS concept, v.distance AS distance, v.weight AS weight, c.pos AS pos"
# One read for every depth: the image's EVOKES edges, all distances (a plain
# MATCH; LadybugDB runs the OPTIONAL MATCH form ~6x slower), plus its elements.
Q_CONTEXT_EDGES = _EVOKES_OF_IMAGE + _EVOKES_RETURN
_SHARED_RETURN = (
    "RETURN a.name AS source, b.name AS target, r.distance AS distance, r.weight AS weight, "
    "b.pos AS pos"
)
Q_SHARED = (
    "MATCH (a:Concept)-[r:ASSOCIATED_WITH]-(b:Concept) "
    "WHERE a.name IN $names AND r.distance <= $maxd " + _SHARED_RETURN
)
# One concept at a time: LadybugDB answers a primary-key lookup in ~0.1 ms but
# plans `IN $names` / `UNWIND` over a rel table as a scan (~100 ms at 1M edges).
Q_SHARED_ONE = (
    "MATCH (a:Concept {name: $name})-[r:ASSOCIATED_WITH]-(b:Concept) "
    "WHERE r.distance <= $maxd " + _SHARED_RETURN
)
# ... only its `k` strongest (what the traversal keeps per concept and hop: the
# rows read are the rows used, not every shared edge of a hub concept)
Q_SHARED_TOP = Q_SHARED_ONE + " ORDER BY weight DESC, target, distance LIMIT $k"
Q_IMAGE_ELEMENTS = (
    "MATCH (i:Image {id: $id})-[:HAS_ELEMENT]->(e:Element) "
    "RETURN e.name AS name, e.concept AS concept, e.pos AS pos, e.saliency AS saliency, "
    "e.rank AS rank, e.box AS box, e.grounding AS grounding ORDER BY rank, concept"
)
Q_IMAGE_EVOKES = (
    _EVOKES_OF_IMAGE
    + "RETURN e.concept AS element, c.name AS concept, v.surface AS surface, c.pos AS pos, "
    "v.distance AS distance, v.rank AS rank, v.weight AS weight "
    "ORDER BY element, distance, rank, concept"
)
Q_IMAGE_CAPTIONS = (
    "MATCH (c:Caption)-[:DESCRIBES]->(i:Image {id: $id}) "
    "OPTIONAL MATCH (c)-[:USES]->(u:Concept) "
    "RETURN c.id AS id, c.text AS text, c.depth AS depth, c.realizer AS realizer, "
    "c.model AS model, c.path AS path, c.weight AS weight, c.run AS run, "
    "collect(u.name) AS uses ORDER BY depth, id"
)
Q_TOUCHED_CONCEPTS = (
    "MATCH (i:Image {id: $id})-[:HAS_ELEMENT]->(e:Element) MATCH (e)-[:IS|EVOKES]->(c:Concept) "
    "RETURN DISTINCT c.name AS name "
    "UNION "
    "MATCH (cap:Caption)-[:DESCRIBES]->(i:Image {id: $id}) MATCH (cap)-[:USES]->(c:Concept) "
    "RETURN DISTINCT c.name AS name"
)
DELETE_IMAGE = (
    "MATCH (c:Caption)-[:DESCRIBES]->(i:Image {id: $id}) DETACH DELETE c",
    "MATCH (i:Image {id: $id})-[:HAS_ELEMENT]->(e:Element) DETACH DELETE e",
    "MATCH (f:Failure) WHERE f.image_id = $id DELETE f",
    "MATCH (i:Image {id: $id}) DETACH DELETE i",
)
DELETE_ORPHAN_CONCEPTS = (
    "UNWIND $names AS k MATCH (c:Concept {name: k}) "
    "WHERE NOT EXISTS { MATCH (c)<-[:IS|EVOKES|USES]-() } DETACH DELETE c"
)
_AGG_RETURN = (
    "WHERE a.name <> b.name "
    "RETURN a.name AS source, b.name AS target, v.distance AS distance, "
    "count(DISTINCT e.image_id) AS support, collect(v.weight) AS weights"
)
Q_AGGREGATE_ALL = (
    "MATCH (a:Concept)<-[:IS]-(e:Element) MATCH (e)-[v:EVOKES]->(b:Concept) " + _AGG_RETURN
)
Q_AGGREGATE_SOME = (
    "UNWIND $names AS k MATCH (a:Concept {name: k})<-[:IS]-(e:Element) "
    "MATCH (e)-[v:EVOKES]->(b:Concept) " + _AGG_RETURN
)
