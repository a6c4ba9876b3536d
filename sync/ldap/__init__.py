"""The one place that talks to a directory through ldap3.

Connection and TLS, reads, pipelined writes, BER encoding, lease storage,
and the throwaway slapd of the demo and the tests. ldap3's exceptions are
translated here into `sync.errors`; no other room imports ldap3.
"""
