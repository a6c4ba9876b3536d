"""Example source documents shipped with portal-sync (package data for the demo)."""
