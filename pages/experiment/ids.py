"""The ids of the experiment page's components, each written once here."""

from __future__ import annotations

TITLE = "experiment-title"
STATUS = "experiment-status"
FACTS = "experiment-facts"
REASON = "experiment-reason"
NOT_FOUND = "experiment-not-found"

AXIS = "experiment-axis"
EXTRAS = "experiment-extras"
CSV_ALL = "experiment-csv"
CSV_VIEW = "experiment-csv-view"
REPORT = "experiment-report"
RESOLUTION = "experiment-resolution"
GRAPH = "experiment-graph"
VIEW = "experiment-view"
INTERVAL = "experiment-interval"

STEPS = "experiment-steps"
ALARMS = "experiment-alarms"
