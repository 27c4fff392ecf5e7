"""Import an experiment from a file: upload, preview and mapping, details, background import.

`page.py` registers the page and wires its callbacks; `ids.py` names every component
once. The file travels by a plain route (components/uploads.py, assets/upload.js), and
the import runs in a thread followed through its job row (components/import_runner.py).
"""
