// description: What a concept evokes across contexts: its associations by distance, with support (images) and aggregate weight.
// param: concept (required) - the concept, as stored (lemma, lowercase)
// param: limit = 50 - at most this many rows
// cost: one concept: its own ASSOCIATED_WITH edges
MATCH (a:Concept {name: $concept})-[r:ASSOCIATED_WITH]->(b:Concept)
RETURN r.distance AS distance, b.name AS association, r.support AS support, r.weight AS weight
ORDER BY distance, weight DESC, association
LIMIT $limit
