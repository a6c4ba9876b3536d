"""The SCIM 2.0 target: users and groups pushed to an identity provider (docs/scim.md)."""
