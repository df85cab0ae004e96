// description: Creative neighbours: images that share abstract concepts (distance >= k on both sides) with an image but no literal element.
// param: image (required) - the image id
// param: min_distance = 4 - how abstract the shared concepts must be
// param: limit = 20 - at most this many images
// cost: one image: the EVOKES edges into its abstract concepts
// Starts from the image (primary key) and follows only its own edges; the other images'
// ids come from their elements and only the `limit` shown are looked up. Relationship
// properties are filtered after a WITH: LadybugDB 0.22 drops rows when a WHERE on one
// EVOKES edge shares a query part with a second EVOKES edge; the image's own edges are
// filtered on their distance before the second EVOKES hop (in a WITH of their own), so
// only its abstract concepts are expanded (half the time at 100k images).
MATCH (a:Image {id: $image})-[:HAS_ELEMENT]->(ae:Element)
MATCH (ae)-[:IS]->(x:Concept)
MATCH (x)<-[:IS]-(le:Element)
WITH a, collect(DISTINCT le.image_id) AS literal
MATCH (a)-[:HAS_ELEMENT]->(ea:Element)
MATCH (ea)-[v:EVOKES]->(c:Concept)
WITH literal, c, v.distance AS dv
WHERE dv >= $min_distance
MATCH (c)<-[w:EVOKES]-(e:Element)
WITH literal, e.image_id AS other, c.name AS concept, w.distance AS dw
WHERE dw >= $min_distance AND NOT other IN literal
WITH other, count(DISTINCT concept) AS shared, collect(DISTINCT concept) AS concepts
ORDER BY shared DESC, other
LIMIT $limit
MATCH (b:Image {id: other})
RETURN b.id AS image, b.uris AS uris, shared, concepts
ORDER BY shared DESC, image
