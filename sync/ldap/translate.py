"""ldap3's exceptions turned into ours (`sync.errors`): the one place that does it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ldap3.core import exceptions as ldap_exc

from sync.errors import (
    AlreadyExists,
    BindFailed,
    ConfigurationError,
    DirectoryError,
    DirectoryUnavailable,
    EntryRejected,
    InsufficientAccess,
    NoSuchEntry,
    NoSuchValue,
)
from sync.ldap.adcodes import reason

_UNAVAILABLE = (
    ldap_exc.LDAPCommunicationError,
    ldap_exc.LDAPResponseTimeoutError,
    ldap_exc.LDAPBusyResult,
    ldap_exc.LDAPUnavailableResult,
    ldap_exc.LDAPServerPoolExhaustedError,
    ldap_exc.LDAPMaximumRetriesError,
)


@contextmanager
def translated(action: str) -> Iterator[None]:
    """Translate ldap3's exceptions raised while doing `action` into ours."""
    try:
        yield
    except _UNAVAILABLE as exc:
        raise DirectoryUnavailable(f"{action}: the directory server is unavailable: {exc}") from exc
    except (ldap_exc.LDAPInvalidCredentialsResult, ldap_exc.LDAPBindError) as exc:
        raise BindFailed(f"{action}: the server refused the bind: {exc}{_ad(exc)}") from exc
    except ldap_exc.LDAPStrongerAuthRequiredResult as exc:
        raise ConfigurationError(
            f"{action}: the server takes this only over an encrypted connection "
            f"(strongerAuthRequired: {exc.message}): use an ldaps:// URL or start_tls"
        ) from exc
    except ldap_exc.LDAPInsufficientAccessRightsResult as exc:
        raise InsufficientAccess(f"{action}: insufficient access rights: {exc}{_ad(exc)}") from exc
    except ldap_exc.LDAPNoSuchObjectResult as exc:
        raise NoSuchEntry(f"{action}: no such entry: {exc}{_ad(exc)}") from exc
    except ldap_exc.LDAPEntryAlreadyExistsResult as exc:
        exists = AlreadyExists(f"{action}: an entry already exists there{_ad(exc)}")
        exists.diagnostic = str(getattr(exc, "message", "") or "")
        raise exists from exc
    except ldap_exc.LDAPSizeLimitExceededResult as exc:
        raise ConfigurationError(
            f"{action}: the server capped the search (size limit): lift the size limit of the "
            'sync account, e.g. limits dn.exact="<bind DN>" size.prtotal=unlimited'
        ) from exc
    except (ldap_exc.LDAPSSLConfigurationError, ldap_exc.LDAPStartTLSError) as exc:
        raise ConfigurationError(f"{action}: TLS set-up failed: {exc}") from exc
    except ldap_exc.LDAPReferralResult as exc:
        raise ConfigurationError(
            f"{action}: the server answered with a referral: it does not take this change "
            "itself (a read-only replica, or a subtree another server holds); point ldap.url "
            "at the server that takes the writes for the base DN"
        ) from exc
    except ldap_exc.LDAPNoSuchAttributeResult as exc:
        text = f"{action}: {exc.description}: {exc.message}".rstrip(": ")
        raise NoSuchValue(text + _ad(exc)) from exc
    except ldap_exc.LDAPOperationResult as exc:
        text = f"{action}: {exc.description}: {exc.message}".rstrip(": ")
        raise EntryRejected(text + _ad(exc)) from exc
    except ldap_exc.LDAPException as exc:
        raise DirectoryError(f"{action}: {exc}") from exc


def _ad(exc: ldap_exc.LDAPException) -> str:
    """Return Active Directory's reason for a refusal, in words, or "" (sync.ldap.adcodes)."""
    return reason(getattr(exc, "message", None) or str(exc))
