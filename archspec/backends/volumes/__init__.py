"""Volume figures: each tensor an H×W×C box, the layers written on the arrows between them.

The pipeline: the shared :mod:`~archspec.backends.diagram.view` decides what is shown
(folding, ``--expand``, ``--depth``); :mod:`.plan` turns its boxes into tensors, joins and op
arrows; :mod:`.geometry` sizes each tensor on the scales of :mod:`.scale`; :mod:`.layout` places
them (Graphviz's ``dot`` places branches); :mod:`.svg` writes the SVG; :mod:`.render` writes the
file, converting to PNG or PDF.
"""

from archspec.backends.volumes.render import VolumesError, volume_svg, write_volumes

__all__ = ["VolumesError", "volume_svg", "write_volumes"]
