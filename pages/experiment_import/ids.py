"""The ids of the import page's components, each written once here."""

from __future__ import annotations

FILE_HOLDER = "import-file-holder"
FILE = "import-file"  # the <input type="file"> that assets/upload.js makes
UPLOAD = "import-upload"
UPLOAD_PROGRESS = "import-upload-progress"
UPLOAD_MESSAGE = "import-upload-message"

PREVIEW_CARD = "import-preview-card"
FORMAT = "import-format"
PREVIEW = "import-preview"
MAPPING_TABLE = "import-mapping-table"
APPLY = "import-apply-mapping"
MAPPING_MESSAGE = "import-mapping-message"
MAPPING = "import-mapping"
# Pattern-matching ids of one column's controls: {"type": MAP_..., "column": index}.
MAP_TARGET = "import-map-target"
MAP_NAME = "import-map-name"
MAP_UNIT = "import-map-unit"

DETAILS_CARD = "import-details-card"
NAME = "import-name"
NAME_FEEDBACK = "import-name-feedback"
BATTERY = "import-battery"
BATTERY_FEEDBACK = "import-battery-feedback"
PROFILE = "import-profile"
PROFILE_FEEDBACK = "import-profile-feedback"
DESCRIPTION = "import-description"
START_ROW = "import-start-row"
START = "import-start"
START_FEEDBACK = "import-start-feedback"
IMPORT = "import-start-button"
IMPORT_MESSAGE = "import-start-message"

JOB_CARD = "import-job-card"
JOB = "import-job"
INTERVAL = "import-interval"
PROGRESS = "import-progress"
STATUS = "import-status"
CANCEL = "import-cancel"
RESULT = "import-result"
RESULT_LINK = "import-result-link"
