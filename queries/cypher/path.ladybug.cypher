// description: The shortest associative path (fewest hops up to 6, either direction) between two concepts over the shared network, with its edge weights; `evokegraph analyze path` finds the strongest (weighted) one.
// param: source (required) - a concept
// param: target (required) - another concept
// cost: two concepts: a path of one, two, three, then four hops as a pattern anchored at both ends (the two concepts' own edges and their neighbours'), the first found answers; else breadth-first over ASSOCIATED_WITH from the source up to 6 hops (at most the whole concept network)
// stages: statements separated by `// else`, run in turn; the first that returns a row answers (run whole, the last alone answers: the same hop count, slower)
MATCH (a:Concept {name: $source})-[r0:ASSOCIATED_WITH]-(b:Concept {name: $target})
RETURN [a.name, b.name] AS concepts, [r0.distance] AS distances, [r0.weight] AS weights
LIMIT 1;
// else
MATCH (a:Concept {name: $source})-[r0:ASSOCIATED_WITH]-(x1:Concept)-[r1:ASSOCIATED_WITH]-(b:Concept {name: $target})
WHERE a.name <> b.name
RETURN [a.name, x1.name, b.name] AS concepts, [r0.distance, r1.distance] AS distances, [r0.weight, r1.weight] AS weights
LIMIT 1;
// else
MATCH (a:Concept {name: $source})-[r0:ASSOCIATED_WITH]-(x1:Concept)-[r1:ASSOCIATED_WITH]-(x2:Concept)-[r2:ASSOCIATED_WITH]-(b:Concept {name: $target})
WHERE a.name <> b.name
RETURN [a.name, x1.name, x2.name, b.name] AS concepts, [r0.distance, r1.distance, r2.distance] AS distances, [r0.weight, r1.weight, r2.weight] AS weights
LIMIT 1;
// else
MATCH (a:Concept {name: $source})-[r0:ASSOCIATED_WITH]-(x1:Concept)-[r1:ASSOCIATED_WITH]-(x2:Concept)
MATCH (x2)-[r2:ASSOCIATED_WITH]-(x3:Concept)-[r3:ASSOCIATED_WITH]-(b:Concept {name: $target})
WHERE a.name <> b.name
RETURN [a.name, x1.name, x2.name, x3.name, b.name] AS concepts, [r0.distance, r1.distance, r2.distance, r3.distance] AS distances, [r0.weight, r1.weight, r2.weight, r3.weight] AS weights
LIMIT 1;
// else
MATCH p = (a:Concept {name: $source})-[r:ASSOCIATED_WITH* SHORTEST 1..6]-(b:Concept {name: $target})
RETURN properties(nodes(p), 'name') AS concepts, properties(rels(p), 'distance') AS distances, properties(rels(p), 'weight') AS weights
