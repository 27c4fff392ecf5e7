"""The live monitor page: one station's experiment as it runs.

`page` registers the page and holds its layout and callbacks; `ids` names its
components; `station_view` lays out one station's monitor; `panels` fills the panels on
each refresh; `chart` keeps the live graph up to date with as little data as possible.

Dash imports, as pages, the files of this folder whose text contains "register_page":
only `page.py` may mention it.
"""
