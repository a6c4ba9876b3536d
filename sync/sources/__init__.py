"""Readers of the customer structure: each kind of source returns the same validated model.

A folder per kind (`file`, `sql`, `http`), listed in the table `kinds.py`;
beside them what every kind shares: the JSON/YAML document, the change
watch, what a kind is (`kind.py`) and `source_of` (`reader.py`).
"""
