// description: Images that evoke a concept (optionally only at distance >= k), with the element that evoked it.
// param: concept (required) - the evoked concept
// param: min_distance = 1 - only associations at this distance or further
// param: min_weight = 0.0 - only associations of at least this weight (the share of raters who accept such a word)
// param: limit = 50 - at most this many rows
// cost: one concept: the EVOKES edges into it
MATCH (i:Image)-[:HAS_ELEMENT]->(e:Element)
MATCH (e)-[v:EVOKES]->(c:Concept {name: $concept})
WHERE v.distance >= $min_distance AND v.weight >= $min_weight
RETURN i.id AS image, i.uris AS uris, e.concept AS element, v.distance AS distance, v.weight AS weight
ORDER BY weight DESC, image, element, distance
LIMIT $limit
