"""The profile pages: the list (`page.py`), one profile (`detail.py`) and the editor
(`editor.py`, opened by `new.py` and `edit.py`)."""
