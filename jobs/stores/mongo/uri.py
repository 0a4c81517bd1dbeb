"""MongoDB URIs as the store shows and reads them: redacted for messages and logs, and
the password and host list picked out of one without trusting the URI to be well formed."""

from __future__ import annotations

import re

# Options whose values may be secrets (tlsCertificateKeyFilePassword, AWS session tokens
# inside authMechanismProperties, ...).
_SECRET_OPTION = re.compile(r"(?i)([?&;][^=&;#]*(?:password|secret|token|authmechanismproperties)[^=&;#]*=)[^&;#]*")


def _split_credentials(uri: str) -> tuple[str, str | None, str]:
    """``(scheme://, userinfo or None, the rest)``, erring towards treating text as userinfo.

    Per the URI spec userinfo ends at the last ``@`` before the first ``/``; a password
    with an unescaped ``/`` breaks that, so any ``@`` further on is treated as its end too.
    """
    scheme, separator, rest = uri.partition("://")
    prefix = scheme + separator if separator else ""
    rest = rest if separator else uri
    authority = rest.partition("/")[0]
    if "@" in authority:
        userinfo, _, hosts = authority.rpartition("@")
        return prefix, userinfo, hosts + rest[len(authority) :]
    if "@" in rest:
        userinfo, _, remainder = rest.rpartition("@")
        return prefix, userinfo, remainder
    return prefix, None, rest


def redact_uri(uri: str) -> str:
    """``uri`` safe to log and show: the password and secret-bearing options become ``***``.

    ``mongodb://app:s3cret@db:27017/jobs`` → ``mongodb://app:***@db:27017/jobs``.
    """
    prefix, userinfo, rest = _split_credentials(uri)
    if userinfo is not None:
        user, colon, _password = userinfo.partition(":")
        if "/" in user or "?" in user:  # the split above was a guess: hide all of it
            user, colon = "***", ""
        rest = f"{user}{':***' if colon else ''}@{rest}"
    return _SECRET_OPTION.sub(r"\1***", prefix + rest)


def password_in(uri: str) -> str | None:
    """The password of ``uri``, or ``None`` when it has none."""
    userinfo = _split_credentials(uri)[1]
    if userinfo is None or ":" not in userinfo:
        return None
    return userinfo.partition(":")[2] or None


def hosts_in(uri: str) -> str:
    """The host list of a URI (``db1:27017,db2:27017``), without credentials."""
    return _split_credentials(uri)[2].partition("/")[0].partition("?")[0]
