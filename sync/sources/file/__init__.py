"""The source document in a JSON or YAML file (source.kind = "file", `source.path`)."""
