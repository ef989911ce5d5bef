"""The exceptions of the `capf` package.

They are defined here, in Python, so that ``except capf.CapfError`` and
``isinstance`` checks work as for any Python library; the native module
raises these classes. No message ever contains a secret (auth string,
private key, hash).
"""

from __future__ import annotations

from typing import Optional

__all__ = [
    "CapfError",
    "MalformedError",
    "VerificationError",
    "ProtocolError",
    "PolicyError",
    "MisuseError",
    "RegistryError",
    "EstError",
]


class CapfError(Exception):
    """Base class of every error raised by `capf`."""


class MalformedError(CapfError, ValueError):
    """The input (file bytes, certificate, key text) is not well-formed.

    ``offset`` is the byte offset of the element at fault when the format
    has one (from the start of the file), else ``None``.
    """

    offset: Optional[int]

    def __init__(self, message: str, offset: Optional[int] = None) -> None:
        super().__init__(message)
        self.offset = offset


class VerificationError(CapfError):
    """The input is well-formed but does not verify: a bad signature, an
    unknown signer, a refused rollover, a digest the policy does not allow,
    a configuration that does not decrypt."""


class ProtocolError(CapfError):
    """The peer broke the CAPF or TVS protocol."""


class PolicyError(CapfError):
    """The answer is no: a host rule or a policy refused the request."""


class MisuseError(CapfError):
    """The caller used the API wrongly: an unusable key or value, or an
    answer to a session decision that is not pending."""


class RegistryError(CapfError):
    """The device registry failed or refused: the database could not be
    read or written, an unknown device, a missing auth-string key file."""


class EstError(CapfError):
    """The online CA (EST) gave no answer to use: it could not be reached
    or did not answer in time, TLS failed, it refused (HTTP 4xx/5xx), or
    its answer was unusable. The message says which; never a password."""
