"""``archspec import``: existing PyTorch modules and ONNX files turned into short, editable specs.

A front end reads a source into a :class:`~archspec.importers.flat.FlatModel` (one layer per op, in
execution order, each with the scope it came from); structure recovery and the spec writer turn that
into blocks, repeats and named layers, whatever the source was.
"""
