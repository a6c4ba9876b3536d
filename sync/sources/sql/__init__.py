"""The customer structure read from a SQL database (source.kind = "sql", `[source.sql]`)."""
