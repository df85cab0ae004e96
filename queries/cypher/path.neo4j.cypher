// description: The shortest associative path (fewest hops up to 6, either direction) between two concepts over the shared network, with its edge weights; `evokegraph analyze path` finds the strongest (weighted) one.
// param: source (required) - a concept
// param: target (required) - another concept
// cost: two concepts: breadth-first over ASSOCIATED_WITH from the source until the target's hop (up to 6): the concepts within reach, at most the whole concept network
MATCH (a:Concept {name: $source}), (b:Concept {name: $target})
MATCH p = shortestPath((a)-[:ASSOCIATED_WITH*1..6]-(b))
RETURN [n IN nodes(p) | n.name] AS concepts, [r IN relationships(p) | r.distance] AS distances, [r IN relationships(p) | r.weight] AS weights
