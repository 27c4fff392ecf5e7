"""The new-experiment page: technology, battery, station, profile (stored, written or
uploaded), name, and the run conditions of the battery's technology; submitting queues
the experiment and opens the station's monitor.

`page` registers the page and wires its callbacks; `form` lays out the form and renders
what the callbacks show; `choices` builds the options (pure functions); `submit` checks
the whole form against the database and queues; `ids` names every component once.

Dash imports, as pages, the files of this folder whose text contains "register_page":
only `page.py` may mention it.
"""
