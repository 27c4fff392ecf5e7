"""The experiments table: `page.py` registers it and wires its callbacks, `ids.py` names
its components."""
