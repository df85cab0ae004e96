// description: The top evoked concepts per distance: for each distance, the concepts evoked in the most images.
// param: per_distance = 10 - concepts listed per distance
// cost: whole graph: every EVOKES edge, counted per concept and distance (seconds at 100k images / 2.5M EVOKES; see docs/benchmarks.md)
MATCH (e:Element)-[v:EVOKES]->(c:Concept)
WITH v.distance AS distance, c.name AS concept, count(DISTINCT e.image_id) AS images
ORDER BY distance, images DESC, concept SKIP 0
WITH distance, collect(concept) AS concepts, collect(images) AS counts
RETURN distance, concepts[1:$per_distance] AS concepts, counts[1:$per_distance] AS images
ORDER BY distance
