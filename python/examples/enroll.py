#!/usr/bin/env python3
"""A CAPF phone in Python: enroll against a CAPF server over TLS (asyncio
and Python's own ``ssl``), as ``capf enroll`` does.

    python enroll.py --server 192.0.2.10:3804 --ca CAPF.pem|CTLFile.tlv \\
        --device SEP001122334455 --out LSC.pem [--auth-string 123456]
        [--lsc LSC.pem] [--mic MIC.pem] [--sudi MIC.pem] [--key rsa|ec]
        [--timeout 60] [--retries 3 --retry-interval 30] [--send-csr]

The flags of ``capf enroll``. Exit status as ``capf``: 0 success, 1 the
answer is no (refused, or the server's certificate not trusted), 2 bad
usage or the server unreachable. A communication failure (the server
unreachable, the connection lost or silent) is tried again ``--retries``
times, ``--retry-interval`` seconds apart; a refusal never is.
``--send-csr`` (as ``capf enroll --send-csr``) sends a PKCS#10 request
signed by the new key with it, which a server whose LSCs an online CA (EST)
signs needs. A server whose LSCs an offline CA signs ends the session
with the certificate pending (exit 3, as ``capf enroll``): the new key is
kept beside ``--out`` in ``OUT.pending-key.pem`` (the file ``capf enroll``
keeps, so either program can finish the enrollment) and the certificate
for it is stored at a later run, without a new key.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import ssl
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import capf

SUCCESS, REFUSED, UNREACHABLE, PENDING = 0, 1, 2, 3


class UsageError(Exception):
    """Bad input (exit 2, never retried)."""


class Untrusted(Exception):
    """TLS failed: the server's certificate is not trusted, or no common
    protocol (exit 1 once the retries are spent, as ``capf``)."""


class Credentials:
    """How the phone authenticates: an authentication string, or its
    certificates (DER) with the signer of the proofs (their keys)."""

    def __init__(
        self,
        auth_string: Optional[str] = None,
        signer: Optional[capf.SoftwareSigner] = None,
    ) -> None:
        self.auth_string = auth_string
        self.signer = signer
        self.lsc: Optional[bytes] = None
        self.mic: Optional[bytes] = None
        self.sudi: Optional[bytes] = None
        self.send_csr = False

    def session(self, device: str, pending_key: Optional[bytes] = None) -> capf.PhoneSession:
        return capf.PhoneSession(
            device,
            now(),
            auth_string=self.auth_string,
            lsc=self.lsc,
            mic=self.mic,
            sudi=self.sudi,
            prefer="lsc" if self.lsc is not None else "mic",
            send_certificate_request=self.send_csr,
            pending_key=pending_key,
        )


def pem_blocks(text: str, label: str) -> list[bytes]:
    """The DER bodies of the PEM blocks labelled `label`."""
    import base64
    import binascii

    begin, end = f"-----BEGIN {label}-----", f"-----END {label}-----"
    blocks = []
    rest = text
    while begin in rest:
        body, found, rest = rest.split(begin, 1)[1].partition(end)
        if not found:
            break
        try:
            blocks.append(base64.b64decode("".join(body.split()), validate=True))
        except (binascii.Error, ValueError):
            continue
    return blocks


def load_credential(path: Path) -> tuple[bytes, str]:
    """A certificate + PKCS#8 key file: (certificate DER, the file's text
    for the key)."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"{path}: {error}") from None
    certificates = pem_blocks(text, "CERTIFICATE")
    if not certificates:
        raise UsageError(f"{path}: no CERTIFICATE")
    if not pem_blocks(text, "PRIVATE KEY"):
        raise UsageError(f"{path}: no usable PKCS#8 private key")
    return certificates[0], text[text.index("-----BEGIN PRIVATE KEY-----") :]


def credentials(args: argparse.Namespace) -> Credentials:
    if args.auth_string is not None:
        return Credentials(auth_string=args.auth_string)
    if args.lsc is None and args.mic is None and args.sudi is None:
        return Credentials()
    found = Credentials(signer=capf.SoftwareSigner())
    for name in ("lsc", "mic", "sudi"):
        path = getattr(args, name)
        if path is None:
            continue
        certificate, key = load_credential(path)
        assert found.signer is not None
        try:
            found.signer.add_key(name, certificate, key)
        except capf.CapfError as error:
            raise UsageError(f"{path}: {error}") from None
        setattr(found, name, certificate)
    return found


def key_allowed(family: Optional[str], request: str) -> bool:
    """`--key rsa|ec`: only a key of this family is generated."""
    return family is None or request.split(":", 1)[0] == family


def now() -> datetime:
    return datetime.now(timezone.utc)


def pem(label: str, der: bytes) -> str:
    import base64
    import textwrap

    body = "\n".join(textwrap.wrap(base64.b64encode(der).decode(), 64))
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n"


def pem_certificate(der: bytes) -> str:
    return pem("CERTIFICATE", der)


def store_lsc(path: Path, certificate: bytes, key_pem: str) -> None:
    """Certificate + key, owner-only, replaced atomically."""
    write_owner_only(path, pem_certificate(certificate) + key_pem)


def pending_key_path(out: Path) -> Path:
    """Where a key waits for its certificate: ``OUT.pending-key.pem``, as
    ``capf enroll`` keeps it (PKCS#8 key, then its public key)."""
    return out.with_name(out.name + ".pending-key.pem")


def keep_pending_key(out: Path, key_pem: str, spki: bytes) -> None:
    """Kept before the key goes out: an offline CA may sign it later."""
    write_owner_only(pending_key_path(out), key_pem + pem("PUBLIC KEY", spki))


def read_pending_key(out: Path) -> Optional[tuple[str, bytes]]:
    """The key kept from an earlier session, if any: (PKCS#8 PEM, DER
    SubjectPublicKeyInfo)."""
    path = pending_key_path(out)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"{path}: {error}") from None
    keys, public = pem_blocks(text, "PRIVATE KEY"), pem_blocks(text, "PUBLIC KEY")
    if not keys or not public:
        raise UsageError(f"{path}: not a pending key written by capf enroll "
                         "(PRIVATE KEY and PUBLIC KEY)")
    return pem("PRIVATE KEY", keys[0]), public[0]


def write_owner_only(path: Path, text: str) -> None:
    """`text` into `path`, owner-only, replaced atomically."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except OSError:
        # No half-written key left behind.
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def trusted_capf_certificates(ca: Path) -> list[bytes]:
    """`--ca`: the CAPF certificate(s) to pin (PEM), or the records with
    role CAPF of a CTL/ITL, which must verify (as a phone does)."""
    try:
        data = ca.read_bytes()
    except OSError as error:
        raise UsageError(f"--ca {ca}: {error}") from None
    if b"-----BEGIN CERTIFICATE-----" in data:
        found = pem_blocks(data.decode("ascii", "replace"), "CERTIFICATE")
    else:
        try:
            trust_list = capf.TrustList.parse(data)
            trust_list.verify()
        except capf.CapfError as error:
            raise UsageError(f"--ca {ca}: {error}") from None
        found = [
            record.certificate
            for record in trust_list.records
            if record.role == capf.Role.CAPF and record.certificate is not None
        ]
    if not found:
        raise UsageError(f"--ca {ca}: no CAPF certificate")
    return found


def stored_certificate(path: Path) -> Optional[bytes]:
    """The LSC the phone keeps (for a fetch), if any."""
    try:
        blocks = pem_blocks(path.read_text(), "CERTIFICATE")
    except (OSError, UnicodeDecodeError):
        return None
    return blocks[0] if blocks else None


def delete_lsc(path: Path) -> bool:
    try:
        path.unlink()
    except OSError:
        return False
    return True


def tls_context(ca: Path) -> ssl.SSLContext:
    """Trust exactly the CAPF certificate(s) given (pinned, as a phone
    trusts the CAPF records of its CTL); phones connect by address, so the
    name is not checked."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    try:
        context.load_verify_locations(cadata=b"".join(trusted_capf_certificates(ca)))
    except ssl.SSLError as error:
        raise UsageError(f"--ca {ca}: {error}") from None
    return context


async def enroll(
    host: str,
    port: int,
    context: ssl.SSLContext,
    device: str,
    phone: Credentials,
    out: Path,
    timeout: float,
    key_family: Optional[str] = None,
) -> capf.PhoneOutcome:
    pending = read_pending_key(out)
    session = phone.session(device, None if pending is None else pending[1])
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=context), timeout
        )
    except ssl.SSLCertVerificationError as error:
        raise Untrusted(f"{host}:{port}: the server's certificate is not trusted: "
                        f"{error.verify_message}") from None
    except ssl.SSLError as error:
        raise Untrusted(f"{host}:{port}: TLS failed: {error.reason or error}") from None
    # The key generated this session, or the one kept pending.
    key_pem: Optional[str] = None if pending is None else pending[0]
    outcome: Optional[capf.PhoneOutcome] = None
    loop = asyncio.get_running_loop()
    try:
        while outcome is None:
            # Drain every output after every call into the session.
            while (item := session.poll_output()) is not None:
                if isinstance(item, capf.Transmit):
                    writer.write(item.data)
                    await writer.drain()
                elif isinstance(item, capf.Need):
                    decision = item.decision
                    if decision.kind == "sign_proof" and phone.signer is not None:
                        phone.signer.answer(session, decision)
                    elif decision.kind == "generate_key" and decision.key_request:
                        request = decision.key_request
                        if not key_allowed(key_family, request):
                            print(f"capf: the server asked for {request}, which --key "
                                  "excludes", file=sys.stderr)
                            session.refuse_key()
                            continue
                        # Key generation is slow: off the event loop.
                        spki, new_key_pem = await loop.run_in_executor(
                            None, capf.generate_key, request
                        )
                        key_pem = new_key_pem
                        session.handle_timeout(now())
                        try:
                            keep_pending_key(out, new_key_pem, spki)
                        except OSError as error:
                            raise UsageError(f"cannot keep the new key in "
                                             f"{pending_key_path(out)}: {error}") from None
                        session.answer_key(spki)
                    elif decision.kind == "sign_certificate_request":
                        # --send-csr: the request signed by the new key.
                        if key_pem is None:
                            session.refuse_certificate_request_signature()
                        else:
                            session.answer_certificate_request(decision, key_pem)
                    elif decision.kind == "store_certificate" and decision.certificate:
                        if key_pem is None:
                            session.refuse_store()
                        else:
                            try:
                                store_lsc(out, decision.certificate, key_pem)
                            except OSError as error:
                                # The server hears it was not stored.
                                print(f"capf: cannot store the LSC in {out}: {error}",
                                      file=sys.stderr)
                                session.refuse_store()
                            else:
                                # The key is in the LSC file now.
                                pending_key_path(out).unlink(missing_ok=True)
                                session.answer_store()
                    elif decision.kind == "fetch_certificate":
                        session.answer_fetch(stored_certificate(out))
                    elif decision.kind == "delete_certificate":
                        session.answer_delete(delete_lsc(out))
                    else:
                        session.refuse_signature()
                elif isinstance(item, capf.Done):
                    assert isinstance(item.outcome, capf.PhoneOutcome)
                    outcome = item.outcome
                    break
            if outcome is not None:
                break
            deadline = session.poll_timeout()
            wait = None if deadline is None else max(0.0, (deadline - now()).total_seconds())
            try:
                data = await asyncio.wait_for(reader.read(65536), wait)
            except asyncio.TimeoutError:
                session.handle_timeout(now())
                continue
            except (ConnectionError, ssl.SSLError):
                session.handle_transport_error()
                continue
            if data:
                session.handle_input(data)
            else:
                session.handle_peer_closed()
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (ConnectionError, ssl.SSLError):
            pass
    return outcome


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--server", required=True, metavar="HOST:PORT")
    parser.add_argument("--ca", required=True, type=Path, metavar="CAPF_CERT.pem|CTLFile.tlv")
    parser.add_argument("--device", required=True, metavar="SEP…")
    parser.add_argument("--auth-string", metavar="DIGITS")
    parser.add_argument("--lsc", type=Path, metavar="LSC.pem")
    parser.add_argument("--mic", type=Path, metavar="MIC.pem")
    parser.add_argument("--sudi", type=Path, metavar="MIC.pem")
    parser.add_argument("--out", required=True, type=Path, metavar="LSC.pem")
    parser.add_argument("--key", choices=("rsa", "ec"), metavar="rsa|ec")
    parser.add_argument("--timeout", type=int, default=60, metavar="SECONDS")
    parser.add_argument("--retries", type=int, default=0, metavar="N")
    parser.add_argument("--retry-interval", type=int, default=30, metavar="SECONDS")
    parser.add_argument(
        "--send-csr",
        action="store_true",
        help="send a PKCS#10 request signed by the new key (servers signing through EST need it)",
    )
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit:
        return UNREACHABLE if exit.code else SUCCESS
    if args.auth_string is not None and (args.lsc is not None or args.mic is not None):
        print("capf: --auth-string cannot be used with --lsc or --mic", file=sys.stderr)
        return UNREACHABLE
    if args.retries < 0 or args.retry_interval < 0 or args.timeout < 0:
        print("capf: --timeout, --retries and --retry-interval are not negative", file=sys.stderr)
        return UNREACHABLE
    host, _, port = args.server.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        print("capf: --server must be HOST:PORT", file=sys.stderr)
        return UNREACHABLE
    # Checked before asking the server: an LSC issued but not storable
    # would be lost.
    if args.out.is_dir() or not args.out.absolute().parent.is_dir():
        print(f"capf: --out {args.out}: not a file in an existing folder", file=sys.stderr)
        return UNREACHABLE
    try:
        context = tls_context(args.ca)
        phone = credentials(args)
        phone.send_csr = args.send_csr
    except UsageError as error:
        print(f"capf: {error}", file=sys.stderr)
        return UNREACHABLE
    attempts = 0
    while True:
        attempts += 1
        failure: Optional[str] = None
        status = UNREACHABLE
        try:
            outcome: Optional[capf.PhoneOutcome] = asyncio.run(
                enroll(
                    host.strip("[]"),
                    int(port),
                    context,
                    args.device,
                    phone,
                    args.out,
                    float(max(args.timeout, 1)),
                    args.key,
                )
            )
        except Untrusted as error:
            outcome, failure, status = None, str(error), REFUSED
        except (capf.CapfError, UsageError) as error:
            print(f"capf: {error}", file=sys.stderr)
            return UNREACHABLE
        except (OSError, asyncio.TimeoutError) as error:
            outcome, failure = None, f"cannot reach {args.server}: {error}"
        failed = outcome is None or outcome.result == "communication_failure"
        if failed and attempts <= args.retries:
            why = failure if outcome is None else outcome.result
            print(
                f"capf: {args.device}: attempt {attempts} of {args.retries + 1}: {why}; "
                f"trying again in {args.retry_interval} s",
                file=sys.stderr,
            )
            time.sleep(args.retry_interval)
            continue
        break
    if outcome is None:
        # Nobody to ask: 2; a TLS failure is the server's "no": 1.
        print(f"capf: {failure}", file=sys.stderr)
        return status
    print(outcome.result)
    if outcome.result == "certificate_pending":
        print(f"capf: {args.device}: the new key is kept in {pending_key_path(args.out)} "
              "until the certificate arrives (run again once the CA has signed it)",
              file=sys.stderr)
        return PENDING
    # A session that started and ended without success (a refusal, or the
    # connection lost or silent) is 1, as `capf enroll`.
    return SUCCESS if outcome.is_success else REFUSED


if __name__ == "__main__":
    sys.exit(main())
