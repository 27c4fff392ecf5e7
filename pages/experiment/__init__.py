"""One experiment's page: its facts, its whole graph at any zoom, its steps and alarms.

`page.py` registers the page and wires its callbacks; `graph.py` reads the points for a
view and builds the figure; `ids.py` names every component once.
"""
