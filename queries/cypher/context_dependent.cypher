// description: The most context-dependent elements: concepts whose associations vary most across the images they appear in (distinct associations / all associations).
// param: min_images = 2 - only concepts seen as an element in at least this many images
// param: limit = 20 - at most this many rows
// cost: whole graph: every IS and EVOKES edge, aggregated per concept (seconds at 100k images / 2.5M EVOKES; see docs/benchmarks.md)
MATCH (c:Concept)<-[:IS]-(e:Element)
MATCH (e)-[v:EVOKES]->(x:Concept)
WITH c, count(DISTINCT e.image_id) AS images, count(DISTINCT x.name) AS distinct_associations, count(v) AS associations
WHERE images >= $min_images
RETURN c.name AS concept, images, distinct_associations, associations, distinct_associations * 1.0 / associations AS variety
ORDER BY variety DESC, images DESC, concept
LIMIT $limit
