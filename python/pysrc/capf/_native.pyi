# Stubs of the native module (checked by `python -m mypy.stubtest capf`).
import os
from datetime import datetime
from typing import Any, Optional, Protocol, Sequence, Union, final

from typing_extensions import Self

from ._types import Role

__all__ = [
    "Abandoned",
    "Anchor",
    "CertificateRequest",
    "ChainCertificate",
    "Decision",
    "DeviceRecord",
    "Done",
    "EncryptedConfig",
    "EstIssuer",
    "Failure",
    "InstalledRecord",
    "LedgerCertificate",
    "LscIssuer",
    "Need",
    "PhoneOutcome",
    "PhoneSession",
    "Purpose",
    "Record",
    "Registry",
    "RegistryDevice",
    "RegistryHost",
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
    "evaluate",
    "generate_auth_string",
    "generate_key",
    "predict_rollover",
    "subject_public_key_info",
]

_Bytes = Union[bytes, bytearray]
_Path = Union[str, os.PathLike[str]]

class _CertificateObject(Protocol):
    """A ``cryptography.x509.Certificate`` (or anything with ``public_bytes``)."""

    def public_bytes(self, encoding: Any, /) -> bytes: ...

class _PrivateKeyObject(Protocol):
    """A ``cryptography`` private key (or anything with ``private_bytes``)."""

    def private_bytes(
        self, encoding: Any, format: Any, encryption_algorithm: Any, /
    ) -> bytes: ...

class _PublicKeyObject(Protocol):
    """A ``cryptography`` public key (or anything with ``public_bytes``
    taking an encoding and a format)."""

    def public_bytes(self, encoding: Any, format: Any, /) -> bytes: ...

_Certificate = Union[bytes, bytearray, str, _CertificateObject]
_Key = Union[bytes, bytearray, str, _PrivateKeyObject]
_PublicKey = Union[bytes, bytearray, str, _PublicKeyObject]

@final
class SignedHeader:
    """The signed header of a file."""

    @property
    def version(self) -> str: ...
    @property
    def header_length(self) -> int: ...
    @property
    def signer_version(self) -> Optional[str]: ...
    @property
    def signer_name(self) -> Optional[str]: ...
    @property
    def serial_number(self) -> bytes: ...
    @property
    def issuer_name(self) -> Optional[str]: ...
    @property
    def hash_algorithm(self) -> str: ...
    @property
    def signature(self) -> bytes: ...
    @property
    def signature_offset(self) -> int: ...
    @property
    def filename(self) -> Optional[str]: ...
    @property
    def timestamp(self) -> Optional[int]: ...
    @property
    def padding_count(self) -> int: ...
    @property
    def element_order(self) -> list[int]: ...
    @property
    def encrypted(self) -> bool: ...

@final
class Record:
    """One record of a trust list."""

    @property
    def role(self) -> Optional[Role]: ...
    @property
    def subject_name(self) -> Optional[str]: ...
    @property
    def issuer_name(self) -> Optional[str]: ...
    @property
    def serial_number(self) -> Optional[bytes]: ...
    @property
    def ip_address(self) -> Optional[str]: ...
    @property
    def dns_name(self) -> Optional[str]: ...
    @property
    def certificate(self) -> Optional[bytes]: ...
    @property
    def public_key(self) -> Optional[bytes]: ...
    @property
    def offset(self) -> int: ...

@final
class TrustList:
    """A CTL or ITL file."""

    @classmethod
    def parse(cls, data: _Bytes) -> Self: ...
    @classmethod
    def from_file(cls, path: _Path) -> Self: ...
    @property
    def header(self) -> SignedHeader: ...
    @property
    def records(self) -> list[Record]: ...
    @property
    def data(self) -> bytes: ...
    def verify(
        self, previous: Optional[TrustList] = None, *, hash_policy: str = "cisco"
    ) -> None: ...
    def __len__(self) -> int: ...

@final
class SignedFile:
    """A signed file (``.sgn``, ``.loads``)."""

    @classmethod
    def parse(cls, data: _Bytes) -> Self: ...
    @classmethod
    def from_file(cls, path: _Path) -> Self: ...
    @staticmethod
    def sign(
        payload: _Bytes,
        certificate: _Certificate,
        key: _Key,
        *,
        hash: str = "sha512",
        filename: str,
        timestamp: int,
    ) -> bytes: ...
    @property
    def header(self) -> SignedHeader: ...
    @property
    def payload(self) -> bytes: ...
    @property
    def data(self) -> bytes: ...
    @property
    def is_cisco_firmware(self) -> bool: ...
    @property
    def is_encrypted(self) -> bool: ...
    def verify(self, certificate: _Certificate, *, hash_policy: str = "cisco") -> None: ...

@final
class EncryptedConfig:
    """An encrypted configuration (``.enc.sgn``)."""

    @classmethod
    def parse(cls, data: _Bytes) -> Self: ...
    @classmethod
    def from_file(cls, path: _Path) -> Self: ...
    @staticmethod
    def encrypt(
        plaintext: _Bytes,
        phone_certificate: _Certificate,
        signer_certificate: _Certificate,
        signer_key: _Key,
        *,
        hash: str = "sha1",
        filename: Optional[str] = None,
        timestamp: Optional[int] = None,
    ) -> bytes: ...
    @property
    def header(self) -> SignedHeader: ...
    @property
    def data(self) -> bytes: ...
    def decrypt(
        self, signer_certificate: _Certificate, phone_key: _Key, *, hash_policy: str = "cisco"
    ) -> bytes: ...
    def decrypt_unverified(self, phone_key: _Key) -> bytes: ...

# ---- sessions -------------------------------------------------------------

@final
class Transmit:
    """One whole frame for the peer: write it with one write, at once."""

    @property
    def data(self) -> bytes: ...

@final
class Need:
    """The session waits for the host's answer to ``decision``."""

    @property
    def decision(self) -> Decision: ...

@final
class Done:
    """The session is over (always the last output)."""

    @property
    def outcome(self) -> Union[ServerOutcome, PhoneOutcome, TvsOutcome]: ...

@final
class Decision:
    """A decision of a session; ``kind`` names it."""

    @property
    def kind(self) -> str: ...
    @property
    def device_name(self) -> Optional[str]: ...
    @property
    def subject_public_key_info(self) -> Optional[bytes]: ...
    @property
    def key_request(self) -> Optional[str]: ...
    @property
    def certificate(self) -> Optional[bytes]: ...
    @property
    def outcome(self) -> Optional[ServerOutcome]: ...
    @property
    def digest(self) -> Optional[bytes]: ...
    @property
    def credential(self) -> Optional[str]: ...
    @property
    def hash(self) -> Optional[str]: ...
    @property
    def certificate_request(self) -> Optional[bytes]: ...
    @property
    def message(self) -> Optional[bytes]: ...
    @property
    def algorithm(self) -> Optional[str]: ...

@final
class ServerOutcome:
    """How a CAPF server session ended."""

    @property
    def device_name(self) -> Optional[str]: ...
    @property
    def result(self) -> str: ...
    @property
    def certificate(self) -> Optional[bytes]: ...
    @property
    def end_reason(self) -> Optional[int]: ...
    @property
    def authenticated(self) -> bool: ...
    @property
    def recorded(self) -> bool: ...
    @property
    def operation_completed(self) -> bool: ...
    @property
    def is_authentication_failure(self) -> bool: ...

@final
class PhoneOutcome:
    """How a CAPF phone session ended."""

    @property
    def result(self) -> str: ...
    @property
    def certificate(self) -> Optional[bytes]: ...
    @property
    def is_success(self) -> bool: ...

@final
class DeviceRecord:
    """The server's record of one device."""

    def __new__(
        cls,
        device_name: str,
        *,
        operation: str = "install",
        key: str = "rsa:2048",
        auth: str = "null-string",
        auth_string: Optional[str] = None,
        auth_iterations: int = 600000,
        failed_attempts: int = 0,
    ) -> DeviceRecord: ...
    @property
    def device_name(self) -> str: ...

@final
class LscIssuer:
    """The local CA that issues LSCs."""

    def __new__(cls, certificate: _Certificate, key: _Key) -> LscIssuer: ...
    def issue(
        self,
        device_name: str,
        subject_public_key_info: _PublicKey,
        now: datetime,
        *,
        validity_days: int = 3650,
    ) -> bytes: ...
    @property
    def certificate(self) -> bytes: ...

@final
class EstIssuer:
    """An online CA through EST (RFC 7030) that signs LSCs."""

    def __new__(
        cls,
        url: str,
        ca: Union[_Certificate, Sequence[_Certificate]],
        *,
        user: Optional[str] = None,
        password: Optional[str] = None,
        client_certificate: Optional[Union[_Certificate, Sequence[_Certificate]]] = None,
        client_key: Optional[_Key] = None,
        timeout_seconds: int = 30,
    ) -> EstIssuer: ...
    def ca_certificates(self) -> list[bytes]: ...
    @property
    def timeout_seconds(self) -> int: ...

_Output = Union[Transmit, Need, Done]

@final
class ServerSession:
    """The CAPF server side of one phone connection."""

    def __new__(
        cls,
        session_id: int,
        now: datetime,
        *,
        announce_auth_type: bool = True,
        max_failed_attempts: int = 5,
        lsc_issuers: Union[_Certificate, Sequence[_Certificate], None] = None,
        manufacturing_roots: Union[_Certificate, Sequence[_Certificate], None] = None,
        intermediates: Union[_Certificate, Sequence[_Certificate], None] = None,
        allow_expired_mic: bool = False,
        require_sudi: bool = False,
    ) -> ServerSession: ...
    @property
    def session_id(self) -> int: ...
    def handle_input(self, data: bytes) -> None: ...
    def poll_output(self) -> Optional[_Output]: ...
    def handle_timeout(self, now: datetime) -> None: ...
    def poll_timeout(self) -> Optional[datetime]: ...
    def handle_peer_closed(self) -> None: ...
    def handle_transport_error(self) -> None: ...
    def is_done(self) -> bool: ...
    def pending_decision(self) -> Optional[str]: ...
    def answer_device(self, record: Optional[DeviceRecord]) -> None: ...
    def refuse_device(self, reason: str) -> None: ...
    def answer_certificate(self, certificate: bytes) -> None: ...
    def refuse_certificate(self, reason: str, *, unavailable: bool = False) -> None: ...
    def answer_pending_recorded(self) -> None: ...
    def answer_outcome_recorded(self) -> None: ...
    def refuse_outcome_record(self) -> None: ...

@final
class PhoneSession:
    """The phone side of a CAPF session."""

    def __new__(
        cls,
        device_name: str,
        now: datetime,
        *,
        auth_string: Optional[str] = None,
        lsc: Optional[_Certificate] = None,
        mic: Optional[_Certificate] = None,
        sudi: Optional[_Certificate] = None,
        prefer: str = "lsc",
        send_certificate_request: bool = False,
        pending_key: Optional[_PublicKey] = None,
    ) -> PhoneSession: ...
    def handle_input(self, data: bytes) -> None: ...
    def poll_output(self) -> Optional[_Output]: ...
    def handle_timeout(self, now: datetime) -> None: ...
    def poll_timeout(self) -> Optional[datetime]: ...
    def handle_peer_closed(self) -> None: ...
    def handle_transport_error(self) -> None: ...
    def is_done(self) -> bool: ...
    def pending_decision(self) -> Optional[str]: ...
    def answer_signature(self, signature: bytes) -> None: ...
    def refuse_signature(self) -> None: ...
    def answer_key(self, subject_public_key_info: bytes) -> None: ...
    def refuse_key(self) -> None: ...
    def answer_certificate_request(self, decision: Decision, key: _Key) -> None: ...
    def answer_certificate_request_signature(self, signature: bytes) -> None: ...
    def refuse_certificate_request_signature(self) -> None: ...
    def repeat_in_progress(self) -> None: ...
    def answer_store(self) -> None: ...
    def refuse_store(self) -> None: ...
    def answer_fetch(self, certificate: Optional[bytes]) -> None: ...
    def answer_delete(self, deleted: bool) -> None: ...

@final
class SoftwareSigner:
    """The in-process signer of a phone's proofs."""

    def __new__(cls) -> SoftwareSigner: ...
    def add_key(self, credential: str, certificate: _Certificate, key: _Key) -> Self: ...
    def sign(self, credential: str, hash: str, digest: bytes) -> bytes: ...
    def answer(self, session: PhoneSession, decision: Decision) -> bool: ...

@final
class TvsOutcome:
    """How a TVS session (server or client) ended."""

    @property
    def session_id(self) -> Optional[int]: ...
    @property
    def device_name(self) -> Optional[str]: ...
    @property
    def result(self) -> str: ...
    @property
    def roles(self) -> list[Role]: ...
    @property
    def ttl(self) -> Optional[int]: ...
    @property
    def reason(self) -> Optional[str]: ...

@final
class TvsServerSession:
    """The TVS server side of one connection."""

    def __new__(cls, now: datetime, *, refuse_expired: bool = False) -> TvsServerSession: ...
    def handle_input(self, data: bytes) -> None: ...
    def poll_output(self) -> Optional[_Output]: ...
    def handle_timeout(self, now: datetime) -> None: ...
    def poll_timeout(self) -> Optional[datetime]: ...
    def handle_peer_closed(self) -> None: ...
    def handle_transport_error(self) -> None: ...
    def is_done(self) -> bool: ...
    def pending_decision(self) -> Optional[str]: ...
    def answer_lookup(
        self, roles: Optional[Sequence[int]], ttl: int = 3600, *, revoked: bool = False
    ) -> None: ...

@final
class TvsClientSession:
    """The phone side of a TVS query."""

    def __new__(
        cls, session_id: int, device_name: str, certificate: bytes, now: datetime
    ) -> TvsClientSession: ...
    def handle_input(self, data: bytes) -> None: ...
    def poll_output(self) -> Optional[_Output]: ...
    def handle_timeout(self, now: datetime) -> None: ...
    def poll_timeout(self) -> Optional[datetime]: ...
    def handle_peer_closed(self) -> None: ...
    def handle_transport_error(self) -> None: ...
    def is_done(self) -> bool: ...
    def pending_decision(self) -> Optional[str]: ...

def subject_public_key_info(certificate: _Certificate) -> bytes:
    """The DER SubjectPublicKeyInfo of a certificate (PEM or DER)."""

def generate_key(key_request: str) -> tuple[bytes, str]:
    """A new key of the kind asked for: (DER SubjectPublicKeyInfo, PKCS #8 PEM)."""

def generate_auth_string(digits: int = 6) -> str:
    """A new random authentication string of `digits` digits (4 to 10)."""

# ---- trust ----------------------------------------------------------------

@final
class StoreEntry:
    """One certificate of a trust store, with its roles."""

    @property
    def certificate(self) -> bytes: ...
    @property
    def roles(self) -> list[Role]: ...
    @property
    def subject(self) -> str: ...
    @property
    def sha256(self) -> bytes: ...

@final
class TrustStore:
    """A trust store: a kind, a name, certificates with roles, revocations."""

    def __new__(cls, kind: str, name: str) -> TrustStore: ...
    @classmethod
    def from_bytes(cls, kind: str, name: str, data: bytes) -> Self: ...
    @classmethod
    def from_file(cls, kind: str, path: _Path) -> Self: ...
    @classmethod
    def from_trust_list(
        cls, trust_list: TrustList, *, kind: str = "ctl", name: Optional[str] = None
    ) -> Self: ...
    def add_certificate(self, certificate: _Certificate, roles: Sequence[int] = ...) -> None: ...
    def revoke_certificate(self, certificate: _Certificate) -> None: ...
    def add_crl(self, crl: bytes) -> None: ...
    @property
    def kind(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def entries(self) -> list[StoreEntry]: ...
    def __len__(self) -> int: ...

@final
class Purpose:
    """What a chain is evaluated for."""

    @staticmethod
    def tls_server(role: str, host: Optional[str] = None) -> Purpose: ...
    @staticmethod
    def phone_web_server(host: Optional[str] = None) -> Purpose: ...
    @staticmethod
    def tls_client(device: Optional[str] = None) -> Purpose: ...
    @staticmethod
    def file_signer(file: str) -> Purpose: ...
    @staticmethod
    def capf_authentication(credential: str, device: Optional[str] = None) -> Purpose: ...
    def store_kinds(self) -> list[str]: ...

@final
class ChainCertificate:
    """One certificate of a chain, described."""

    @property
    def subject(self) -> str: ...
    @property
    def issuer(self) -> str: ...
    @property
    def serial(self) -> str: ...
    @property
    def sha256(self) -> bytes: ...
    @property
    def not_before(self) -> datetime: ...
    @property
    def not_after(self) -> datetime: ...

@final
class Anchor:
    """The anchor a trusted chain ends at."""

    @property
    def subject(self) -> str: ...
    @property
    def sha256(self) -> bytes: ...
    @property
    def store_kind(self) -> str: ...
    @property
    def store_name(self) -> str: ...
    @property
    def pinned(self) -> bool: ...

@final
class Failure:
    """Why a chain is not trusted: reason, detail, fix."""

    @property
    def reason(self) -> str: ...
    @property
    def detail(self) -> str: ...
    @property
    def fix(self) -> str: ...
    @property
    def store_kind(self) -> Optional[str]: ...
    @property
    def store_name(self) -> Optional[str]: ...

@final
class Verdict:
    """The evaluator's explained answer."""

    @property
    def trusted(self) -> bool: ...
    @property
    def purpose(self) -> str: ...
    @property
    def anchor(self) -> Optional[Anchor]: ...
    @property
    def roles(self) -> list[Role]: ...
    @property
    def chain(self) -> list[ChainCertificate]: ...
    @property
    def failure(self) -> Optional[Failure]: ...
    @property
    def reason(self) -> Optional[str]: ...
    @property
    def fix(self) -> Optional[str]: ...
    @property
    def notes(self) -> list[str]: ...

def evaluate(
    chain: Union[_Certificate, Sequence[_Certificate]],
    purpose: Purpose,
    stores: Sequence[TrustStore],
    now: datetime,
    *,
    max_chain_length: int = 4,
    allow_expired_mic: bool = False,
    check_pinned_validity: bool = False,
    skip_validity: bool = False,
) -> Verdict:
    """Evaluates a chain for a purpose against stores; the explained verdict."""

@final
class TvsKnowledge:
    """What a TVS server would answer about certificates."""

    def __new__(cls) -> TvsKnowledge: ...
    def insert(
        self, certificate: _Certificate, roles: Sequence[int], *, revoked: bool = False
    ) -> None: ...
    def __len__(self) -> int: ...

@final
class InstalledRecord:
    """A record of an installed list that a rollover decision went through."""

    @property
    def list(self) -> str: ...
    @property
    def index(self) -> int: ...
    @property
    def role(self) -> Role: ...
    @property
    def subject(self) -> Optional[str]: ...

@final
class RolloverPrediction:
    """Whether a phone installs a new CTL/ITL, why, and the fix."""

    @property
    def candidate_kind(self) -> str: ...
    @property
    def authority(self) -> str: ...
    @property
    def accepted(self) -> bool: ...
    @property
    def acceptance(self) -> Optional[str]: ...
    @property
    def rejection_reason(self) -> Optional[str]: ...
    @property
    def rejection_detail(self) -> Optional[str]: ...
    @property
    def installed_record(self) -> Optional[InstalledRecord]: ...
    @property
    def tvs_roles(self) -> list[Role]: ...
    @property
    def signer_subject(self) -> Optional[str]: ...
    @property
    def signer_sha256(self) -> Optional[bytes]: ...
    @property
    def explanation(self) -> str: ...
    @property
    def outcome(self) -> str: ...
    @property
    def fix(self) -> Optional[str]: ...
    @property
    def warnings(self) -> list[str]: ...

def predict_rollover(
    candidate: bytes,
    *,
    kind: Optional[str] = None,
    installed_ctl: Optional[bytes] = None,
    installed_itl: Optional[bytes] = None,
    tvs: Optional[TvsKnowledge] = None,
    hash_policy: str = "cisco",
) -> RolloverPrediction:
    """Predicts whether a phone holding the installed lists installs the candidate."""

@final
class TrustListBuilder:
    """Builds and signs a CTL or ITL."""

    def __new__(
        cls,
        kind: str,
        signer_certificate: _Certificate,
        signer_key: _Key,
        *,
        timestamp: int,
        hash: str = "sha1",
        filename: Optional[str] = None,
        layout: str = "cisco",
    ) -> TrustListBuilder: ...
    def record(
        self,
        certificate: _Certificate,
        role: int,
        *,
        dns_name: Optional[str] = None,
        ip_address: Optional[str] = None,
    ) -> Self: ...
    def build(self) -> bytes: ...
    def __len__(self) -> int: ...

# ---- TLS connection (rustls) ---------------------------------------------

@final
class TlsFailed:
    """TLS failed; the session was told and ends with its own outcome."""

    @property
    def message(self) -> str: ...

@final
class Abandoned:
    """The connection ended without an outcome from its session."""

    @property
    def reason(self) -> str: ...

_ConnectionOutput = Union[Transmit, Need, Done, TlsFailed, Abandoned]

@final
class TlsConnection:
    """One TLS connection (rustls) carrying one session."""

    @classmethod
    def server(
        cls,
        session: Union[ServerSession, TvsServerSession],
        certificate: Union[_Certificate, Sequence[_Certificate]],
        key: _Key,
        now: datetime,
        *,
        handshake_timeout: Optional[float] = None,
    ) -> Self: ...
    @classmethod
    def client(
        cls,
        session: Union[PhoneSession, TvsClientSession],
        server_name: str,
        trust: Union[_Certificate, Sequence[_Certificate]],
        now: datetime,
        *,
        role: str = "capf",
        handshake_timeout: Optional[float] = None,
    ) -> Self: ...
    @property
    def session(
        self,
    ) -> Union[ServerSession, PhoneSession, TvsServerSession, TvsClientSession]: ...
    def handle_tcp_input(self, data: bytes) -> None: ...
    def handle_tcp_closed(self) -> None: ...
    def handle_transport_error(self) -> None: ...
    def handle_timeout(self, now: datetime) -> None: ...
    def poll_timeout(self) -> Optional[datetime]: ...
    def poll_output(self) -> Optional[_ConnectionOutput]: ...
    def is_done(self) -> bool: ...
    def is_handshaking(self) -> bool: ...
    def protocol_version(self) -> Optional[str]: ...
    def peer_certificates(self) -> Optional[list[bytes]]: ...

# ---- registry ---------------------------------------------------------------

@final
class RegistryDevice:
    """One device as the registry holds it."""

    @property
    def name(self) -> str: ...
    @property
    def operation(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def auth(self) -> str: ...
    @property
    def has_auth_string(self) -> bool: ...
    @property
    def failed_attempts(self) -> int: ...
    @property
    def locked(self) -> bool: ...
    @property
    def status(self) -> str: ...

@final
class LedgerCertificate:
    """One certificate of the registry's ledger."""

    @property
    def id(self) -> int: ...
    @property
    def serial_hex(self) -> str: ...
    @property
    def certificate(self) -> bytes: ...
    @property
    def state(self) -> str: ...
    @property
    def issued_at(self) -> datetime: ...
    @property
    def revoked(self) -> bool: ...

@final
class CertificateRequest:
    """A certificate request kept for the offline CA (`capf serve --offline-ca`)."""

    @property
    def id(self) -> int: ...
    @property
    def device(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def public_key(self) -> bytes: ...
    @property
    def csr(self) -> Optional[bytes]: ...
    @property
    def requested_at(self) -> datetime: ...

@final
class RegistryHost:
    """One connection's side of a CAPF server's decisions."""

    def decide(
        self, session: ServerSession, decision: Decision, now: Optional[datetime] = None
    ) -> None: ...
    def release(self, now: Optional[datetime] = None) -> bool: ...

@final
class Registry:
    """The device registry, ledger and event log (SQLite)."""

    def __new__(cls, path: _Path, *, auth_key_file: Optional[_Path] = None) -> Registry: ...
    def add_device(
        self,
        name: str,
        *,
        operation: str = "install",
        key: str = "rsa:2048",
        auth: str = "null",
        auth_string: Optional[str] = None,
        complete_by: Optional[datetime] = None,
        description: Optional[str] = None,
        now: Optional[datetime] = None,
    ) -> bool: ...
    def device(self, name: str) -> RegistryDevice: ...
    def devices(self) -> list[RegistryDevice]: ...
    def certificates(self, name: str) -> list[LedgerCertificate]: ...
    def schedule_with_generated_auth_string(
        self,
        name: str,
        *,
        digits: int = 6,
        operation: str = "install",
        key: str = "rsa:2048",
        complete_by: Optional[datetime] = None,
        description: Optional[str] = None,
        now: Optional[datetime] = None,
    ) -> str: ...
    def revoke(
        self,
        *,
        device: Optional[str] = None,
        serial: Optional[str] = None,
        reason: str = "unspecified",
        now: Optional[datetime] = None,
    ) -> list[LedgerCertificate]: ...
    def certificate_requests(self, *, stale: bool = False) -> list[CertificateRequest]: ...
    def import_certificate(
        self, certificate: _Certificate, *, now: Optional[datetime] = None
    ) -> LedgerCertificate: ...
    def delete_stale_certificate_requests(self, *, now: Optional[datetime] = None) -> int: ...
    def report_csv(self) -> str: ...
    def tvs_add(
        self,
        certificate: _Certificate,
        roles: Sequence[int],
        *,
        ttl: int = 86400,
        now: Optional[datetime] = None,
    ) -> None: ...
    def tvs_revoke(self, certificate: _Certificate) -> bool: ...
    def tvs_answer(
        self, session: TvsServerSession, decision: Decision, now: Optional[datetime] = None
    ) -> None: ...
    def plan_renewals(
        self,
        *,
        expiring_before: Optional[datetime] = None,
        used_share: Optional[str] = None,
        dry_run: bool = False,
        now: Optional[datetime] = None,
    ) -> list[tuple[str, int, str]]: ...
    def settings(self) -> dict[str, str]: ...
    def set_setting(self, name: str, value: str, *, now: Optional[datetime] = None) -> None: ...
    def host(
        self,
        issuer: Optional[Union[LscIssuer, EstIssuer]],
        *,
        max_failed_attempts: Optional[int] = None,
        key_generation_timeout: Optional[float] = None,
        response_timeout: float = 60.0,
        validity_days: Optional[int] = None,
        offline_ca: bool = False,
    ) -> RegistryHost: ...
