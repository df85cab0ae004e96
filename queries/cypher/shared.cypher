// description: Concepts two images share, at the literal level (both have it as an element) and at the abstract level (both evoke it).
// param: a (required) - an image id
// param: b (required) - another image id
// cost: two images: their own edges and the EVOKES edges into their concepts
MATCH (x:Image {id: $a})-[:HAS_ELEMENT]->(:Element)-[:IS]->(c:Concept)
MATCH (c)<-[:IS]-(:Element)<-[:HAS_ELEMENT]-(y:Image {id: $b})
RETURN 'literal' AS level, c.name AS concept, 0 AS distance_a, 0 AS distance_b
UNION
MATCH (x:Image {id: $a})-[:HAS_ELEMENT]->(:Element)-[v:EVOKES]->(c:Concept)
MATCH (c)<-[w:EVOKES]-(:Element)<-[:HAS_ELEMENT]-(y:Image {id: $b})
RETURN 'abstract' AS level, c.name AS concept, v.distance AS distance_a, w.distance AS distance_b
