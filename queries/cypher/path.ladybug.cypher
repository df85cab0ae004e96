// description: The shortest associative path (fewest hops up to 6, either direction) between two concepts over the shared network, with its edge weights; `evokegraph analyze path` finds the strongest (weighted) one.
// param: source (required) - a concept
// param: target (required) - another concept
// cost: two concepts: breadth-first over ASSOCIATED_WITH from the source until the target's hop (up to 6): the concepts within reach, at most the whole concept network
MATCH p = (a:Concept {name: $source})-[r:ASSOCIATED_WITH* SHORTEST 1..6]-(b:Concept {name: $target})
RETURN properties(nodes(p), 'name') AS concepts, properties(rels(p), 'distance') AS distances, properties(rels(p), 'weight') AS weights
