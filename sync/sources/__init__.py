"""Readers of the customer structure: each returns the same validated model.

Today the JSON/YAML document; SQL and HTTP readers go here too.
"""
