"""How kubedeck shows Kubernetes objects: one package for the API's `Table`, the CLI's
printers and the TUI's views, so all three print kubectl's columns by the same rules.

- `columns.py` (+ `core.py`, `workloads.py`, `network.py`, `others.py`): kubectl's
  column definitions and cells per kind; `table.py`: the `meta.k8s.io/v1` Table and its text rendering;
- `format.py`: ages, pod/node/Service cells, label selectors, Secret masking;
- `describe.py`: describe text and YAML; `resources.py`: the TUI's views and short names.

Pure functions only: nothing here imports Textual, the TUI or the CLI.
"""
