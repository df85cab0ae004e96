// description: Creative neighbours: images that share abstract concepts (distance >= k on both sides) with an image but no literal element.
// param: image (required) - the image id
// param: min_distance = 4 - how abstract the shared concepts must be
// param: limit = 20 - at most this many images
MATCH (a:Image {id: $image})-[:HAS_ELEMENT]->(:Element)-[v:EVOKES]->(c:Concept)
MATCH (c)<-[w:EVOKES]-(:Element)<-[:HAS_ELEMENT]-(b:Image)
WHERE b.id <> a.id AND v.distance >= $min_distance AND w.distance >= $min_distance
  AND NOT EXISTS { MATCH (a)-[:HAS_ELEMENT]->(:Element)-[:IS]->(:Concept)<-[:IS]-(:Element)<-[:HAS_ELEMENT]-(b) }
RETURN b.id AS image, b.uris AS uris, count(DISTINCT c.name) AS shared, collect(DISTINCT c.name) AS concepts
ORDER BY shared DESC, image
LIMIT $limit
