"""Keep an LDAP directory in step with a print shop's customer structure."""
