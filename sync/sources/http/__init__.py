"""The source document fetched over HTTP(S) (source.kind = "http", `[source.http]`)."""
