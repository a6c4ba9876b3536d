"""The shipped attribute mappings, one TOML file per directory flavour (package data)."""
