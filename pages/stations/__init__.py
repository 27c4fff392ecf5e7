"""The stations page: computational units, their stations, and managing them.

`page` registers the page and wires its callbacks; `ids` names its components; `board`
draws the units and their stations; `form` holds the create/edit form and what its
Save does. Dash imports, as pages, the files of this folder whose text contains the
registering call: only `page.py` may mention it.
"""
