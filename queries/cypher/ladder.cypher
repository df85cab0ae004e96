// description: The abstraction ladder of one element in one image: its associations from distance 1 to 5, with concreteness.
// param: image (required) - the image id
// param: element (required) - the element's concept
// param: min_weight = 0.0 - only associations of at least this weight (the share of raters who accept such a word)
// cost: one image: its elements' EVOKES edges
MATCH (i:Image {id: $image})-[:HAS_ELEMENT]->(e:Element)
MATCH (e)-[v:EVOKES]->(c:Concept)
WHERE e.concept = $element AND v.weight >= $min_weight
RETURN v.distance AS distance, c.name AS association, v.weight AS weight, c.concreteness AS concreteness
ORDER BY distance, v.rank, association
