"""The ids of the monitor's components, each written once here.

The layout, the callbacks and the panels refer to these names; the browser tests find
the same components by them.
"""

from __future__ import annotations

# Heading and station picker
UNKNOWN_STATION = "monitor-unknown"
PICKER = "monitor-picker"  # prefix of the picker's station cards

# "Now executing" card
STEP_LABEL = "monitor-step-label"
STEP = "monitor-step"
FACTS = "monitor-facts"
STATUS = "monitor-status"
LAST_SAMPLE = "monitor-last-sample"
PAUSE = "monitor-pause"
RESUME = "monitor-resume"
STOP = "monitor-stop"
COMMAND_FEEDBACK = "monitor-command-feedback"

# Notices above the graph
WARNING = "monitor-warning"
OFFLINE = "monitor-offline"
SILENT = "monitor-silent"
ENDED_SLOT = "monitor-ended-slot"
ENDED = "monitor-ended"

# The experiments waiting on the station
QUEUE = "monitor-queue"


def queue_item(experiment_id: int) -> str:
    """One waiting experiment's line in the queue panel."""
    return f"monitor-queue-{experiment_id}"


# Controls and graph
WINDOW = "monitor-window"
REFRESH = "monitor-refresh"
EXTRAS = "monitor-extras"
FOLLOW_BUTTON = "monitor-follow-button"
DOWNLOAD_BUTTON = "monitor-download-button"
GRAPH = "monitor-graph"
ALARMS = "monitor-alarms"

# Stop confirmation
STOP_DIALOG = "monitor-stop-dialog"
STOP_CANCEL = "monitor-stop-cancel"
STOP_CONFIRM = "monitor-stop-confirm"

# State kept in the browser
STATION = "monitor-station"  # the station shown
VIEW = "monitor-view"  # what the graph holds (chart.View)
EXPERIMENT = "monitor-experiment"  # what the buttons act on (panels.Actions), not the graph
FOLLOW = "monitor-follow"  # whether the x range follows the newest sample
ZOOM = "monitor-zoom"  # the time range (Unix ms) the user zoomed to, if any
AXIS_EVENT = "monitor-axis-event"  # the graph's last relayout event about its x axis
INTERVAL = "monitor-interval"
