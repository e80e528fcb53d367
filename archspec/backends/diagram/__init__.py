"""What both diagram styles share: which blocks fold and which scopes collapse, what is drawn, how it looks.

:mod:`.folding` decides which repeated blocks fold (``×36``) and which scopes collapse
(``--depth``); :mod:`.view` turns that into boxes, clusters and edges; :mod:`.theme` holds the
colours per op family and how shapes and counts are written; :mod:`.program` runs Graphviz's
``dot``.  The Graphviz style (:mod:`archspec.backends.graphviz`) and the volume figures
(:mod:`archspec.backends.volumes`) both build on this package, and it on neither of them.
"""
