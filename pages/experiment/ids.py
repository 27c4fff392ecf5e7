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
RESOLUTION = "experiment-resolution"
GRAPH = "experiment-graph"
VIEW = "experiment-view"
INTERVAL = "experiment-interval"

STEPS = "experiment-steps"
ALARMS = "experiment-alarms"

CYCLES = "experiment-cycles"
CYCLES_EMPTY = "experiment-cycles-empty"
CYCLE_BASIS = "experiment-cycle-basis"
CYCLE_CAPACITY = "experiment-cycle-capacity"
CYCLE_EFFICIENCY = "experiment-cycle-efficiency"
CYCLE_VOLTAGE = "experiment-cycle-voltage"
CYCLE_PICKER = "experiment-cycle-picker"
CYCLE_VQ = "experiment-cycle-vq"
CYCLE_DQDV = "experiment-cycle-dqdv"
CYCLE_CURVES_NOTE = "experiment-cycle-curves-note"
CYCLE_TABLE = "experiment-cycle-table"
CYCLE_CSV = "experiment-cycle-csv"
