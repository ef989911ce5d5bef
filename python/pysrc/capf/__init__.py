"""capf: the Cisco IP-phone security PKI from Python.

CTL/ITL trust lists, signed and encrypted configuration files, and the
CAPF and TVS sessions, with the same nouns as the Rust crates
(``ctl-format``, ``capf-core``). Every error is a :class:`CapfError`.
"""

from ._errors import (
    CapfError,
    MalformedError,
    MisuseError,
    PolicyError,
    ProtocolError,
    VerificationError,
)
from ._native import (
    EncryptedConfig,
    Record,
    SignedFile,
    SignedHeader,
    TrustList,
)
from ._types import Role

__all__ = [
    "CapfError",
    "EncryptedConfig",
    "MalformedError",
    "MisuseError",
    "PolicyError",
    "ProtocolError",
    "Record",
    "Role",
    "SignedFile",
    "SignedHeader",
    "TrustList",
    "VerificationError",
]
