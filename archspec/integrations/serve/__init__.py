"""``archspec serve``: the live preview of a spec while it is edited (see :mod:`.app`)."""
