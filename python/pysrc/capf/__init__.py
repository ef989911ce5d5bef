"""capf: the Cisco IP-phone security PKI from Python.

CTL/ITL trust lists, signed and encrypted configuration files, and the
CAPF and TVS sessions, with the same nouns as the Rust crates
(``ctl-format``, ``capf-core``). Every error is a :class:`CapfError`.

Sessions follow the one host contract of ``capf_core::session``: feed the
peer's plaintext with ``handle_input``, drain ``poll_output`` (a
:class:`Transmit`, :class:`Need` or :class:`Done`) after every call, answer
each :class:`Decision` with the session's ``answer_*`` / ``refuse_*``
methods, honour ``poll_timeout`` with ``handle_timeout(datetime)``.
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
    Decision,
    DeviceRecord,
    Done,
    EncryptedConfig,
    LscIssuer,
    Need,
    PhoneOutcome,
    PhoneSession,
    Record,
    ServerOutcome,
    ServerSession,
    SignedFile,
    SignedHeader,
    Transmit,
    TrustList,
    TvsClientSession,
    TvsOutcome,
    TvsServerSession,
    generate_key,
    subject_public_key_info,
)
from ._types import Role

__all__ = [
    "CapfError",
    "Decision",
    "DeviceRecord",
    "Done",
    "EncryptedConfig",
    "LscIssuer",
    "MalformedError",
    "MisuseError",
    "Need",
    "PhoneOutcome",
    "PhoneSession",
    "PolicyError",
    "ProtocolError",
    "Record",
    "Role",
    "ServerOutcome",
    "ServerSession",
    "SignedFile",
    "SignedHeader",
    "Transmit",
    "TrustList",
    "TvsClientSession",
    "TvsOutcome",
    "TvsServerSession",
    "VerificationError",
    "generate_key",
    "subject_public_key_info",
]
