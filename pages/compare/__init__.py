"""The comparison of several experiments: cycle plots grouped by metadata, bands, merits.

`page.py` registers the page and wires its callbacks; `figures.py` builds the figures
from the cycle tables; `ids.py` names every component once.
"""
