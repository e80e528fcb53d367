"""archspec where people write: notebooks, MkDocs, Sphinx, and a live preview.

These modules sit at the top of the pipeline, beside :mod:`archspec.cli`: each calls the library
(load, analyse, the diagram backends) and adapts the result to a host.  Nothing below imports
them.  :mod:`.figure` is the figure object behind ``archspec.render``; :mod:`.blocks` turns a
docs block (MkDocs fence or Sphinx directive) into inline HTML; :mod:`.mkdocs` and
:mod:`.sphinx` are the two doc-tool adapters; :mod:`.serve` is ``archspec serve``.
"""
