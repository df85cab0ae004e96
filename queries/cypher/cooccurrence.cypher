// description: Concept co-occurrence: pairs of concepts that appear as elements of the same images.
// param: limit = 50 - at most this many pairs
// cost: whole graph: every pair of elements of every image (seconds at 100k images; see docs/benchmarks.md)
MATCH (i:Image)-[:HAS_ELEMENT]->(:Element)-[:IS]->(c1:Concept)
MATCH (i)-[:HAS_ELEMENT]->(:Element)-[:IS]->(c2:Concept)
WHERE c1.name < c2.name
RETURN c1.name AS concept_a, c2.name AS concept_b, count(DISTINCT i.id) AS images
ORDER BY images DESC, concept_a, concept_b
LIMIT $limit
