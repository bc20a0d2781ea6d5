"""The compositor: the built-in editor's layout and painting, each file one job.

- ``saliency``: where the product is (found, or the user's mask)
- ``reframe``: the base in another ad size, the product kept, the copy's side left free
- ``fonts``: font files per script, and the runs of one font a line is drawn in
- ``lines``: where a line of copy may break, and balanced breaks
- ``blocks``: blocks of copy measured and stacked
- ``zones``: the canvas's zones around the product
- ``search``: where the copy goes (the one placement: auto's search, exact's pin)
- ``look``: the look (zone, arrangement, headline scale) a variant's locales share
- ``faces``: faces, and the person under each, copy keeps off
- ``fill``: how a reframed size's new area is filled (the backdrop carried on, or the photo blurred)
- ``verdict``: what an art director refuses in a layout, read from its record
- ``contrast``: each line's contrast and the treatment that makes it pass
- ``typeset``: ``decide`` (the layout and its record, no pixels painted), then ``paint``
- ``paint``: drawing a decided layout
- ``record``: the layout record, and the PNG that carries it

`transcreate.editors.local.LocalEditor` is the editor built on it.
"""

#: The compositor's version, part of the built-in editor's identity and so of every job key: bump
#: it with any change that changes pixels, so that stored outputs are made again.
VERSION = 9
