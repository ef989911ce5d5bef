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
    Abandoned,
    Anchor,
    ChainCertificate,
    Decision,
    DeviceRecord,
    Done,
    EncryptedConfig,
    Failure,
    InstalledRecord,
    LscIssuer,
    Need,
    PhoneOutcome,
    PhoneSession,
    Purpose,
    Record,
    RolloverPrediction,
    ServerOutcome,
    ServerSession,
    SignedFile,
    SignedHeader,
    SoftwareSigner,
    TlsConnection,
    TlsFailed,
    StoreEntry,
    Transmit,
    TrustList,
    TrustListBuilder,
    TrustStore,
    TvsClientSession,
    TvsKnowledge,
    TvsOutcome,
    TvsServerSession,
    Verdict,
    evaluate,
    generate_key,
    predict_rollover,
    subject_public_key_info,
)
from ._types import Role

__all__ = [
    "Abandoned",
    "Anchor",
    "CapfError",
    "ChainCertificate",
    "Decision",
    "DeviceRecord",
    "Done",
    "EncryptedConfig",
    "Failure",
    "InstalledRecord",
    "LscIssuer",
    "MalformedError",
    "MisuseError",
    "Need",
    "PhoneOutcome",
    "PhoneSession",
    "PolicyError",
    "ProtocolError",
    "Purpose",
    "Record",
    "Role",
    "RolloverPrediction",
    "ServerOutcome",
    "ServerSession",
    "SignedFile",
    "SignedHeader",
    "SoftwareSigner",
    "TlsConnection",
    "TlsFailed",
    "StoreEntry",
    "Transmit",
    "TrustList",
    "TrustListBuilder",
    "TrustStore",
    "TvsClientSession",
    "TvsKnowledge",
    "TvsOutcome",
    "TvsServerSession",
    "Verdict",
    "VerificationError",
    "evaluate",
    "generate_key",
    "predict_rollover",
    "subject_public_key_info",
]
