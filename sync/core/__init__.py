"""The pure core: from the customer structure to the ordered changes, and the report.

Model, rules, desired entries, plan, guard, report: functions of their
inputs only. No module here reads a file, opens a socket, reads the clock or
imports ldap3 (the import contracts in pyproject.toml hold that line); the
rooms above pass in what the core needs, the time included.
"""
