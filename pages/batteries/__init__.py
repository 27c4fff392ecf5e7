"""The battery pages: the list (`page`), a new battery (`new`) and one battery with its
experiments and the edit of its descriptive fields (`detail`). `form` builds the fields
and saves them through the catalogue; `ids` names the components. Dash imports, as pages,
the files of this folder whose text contains the registering call: only `page.py`,
`new.py` and `detail.py` may mention it.
"""
