#!/usr/bin/env python3
"""A CAPF phone in Python: enroll against a CAPF server over TLS (asyncio
and Python's own ``ssl``), as ``capf enroll`` does.

    python enroll.py --server 192.0.2.10:3804 --ca CAPF.pem \\
        --device SEP001122334455 --out LSC.pem [--auth-string 123456]

Exit status as ``capf``: 0 success, 1 the answer is no (refused), 2 bad
usage or the server unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import ssl
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import capf

SUCCESS, REFUSED, UNREACHABLE = 0, 1, 2


def now() -> datetime:
    return datetime.now(timezone.utc)


def pem_certificate(der: bytes) -> str:
    import base64
    import textwrap

    body = "\n".join(textwrap.wrap(base64.b64encode(der).decode(), 64))
    return f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"


def store_lsc(path: Path, certificate: bytes, key_pem: str) -> None:
    """Certificate + key, owner-only, replaced atomically."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as out:
        out.write(pem_certificate(certificate))
        out.write(key_pem)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


def tls_context(ca: Path) -> ssl.SSLContext:
    """Trust exactly the CAPF certificate(s) given (pinned, as a phone
    trusts the CAPF records of its CTL); phones connect by address, so the
    name is not checked."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    context.load_verify_locations(cafile=str(ca))
    return context


async def enroll(
    host: str,
    port: int,
    context: ssl.SSLContext,
    device: str,
    auth_string: Optional[str],
    out: Path,
    timeout: float,
) -> capf.PhoneOutcome:
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port, ssl=context), timeout
    )
    session = capf.PhoneSession(device, now(), auth_string=auth_string)
    key_pem: Optional[str] = None
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
                    if decision.kind == "generate_key" and decision.key_request:
                        # Key generation is slow: off the event loop.
                        request = decision.key_request
                        spki, key_pem = await loop.run_in_executor(
                            None, capf.generate_key, request
                        )
                        session.handle_timeout(now())
                        session.answer_key(spki)
                    elif decision.kind == "store_certificate" and decision.certificate:
                        if key_pem is None:
                            session.refuse_store()
                        else:
                            store_lsc(out, decision.certificate, key_pem)
                            session.answer_store()
                    elif decision.kind == "fetch_certificate":
                        session.answer_fetch(None)
                    elif decision.kind == "delete_certificate":
                        session.answer_delete(False)
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
    parser.add_argument("--ca", required=True, type=Path, metavar="CAPF.pem")
    parser.add_argument("--device", required=True, metavar="SEP…")
    parser.add_argument("--out", required=True, type=Path, metavar="LSC.pem")
    parser.add_argument("--auth-string", metavar="DIGITS")
    parser.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit:
        return UNREACHABLE if exit.code else SUCCESS
    host, _, port = args.server.rpartition(":")
    if not host or not port.isdigit():
        print("capf: --server must be HOST:PORT", file=sys.stderr)
        return UNREACHABLE
    try:
        context = tls_context(args.ca)
        outcome = asyncio.run(
            enroll(
                host.strip("[]"),
                int(port),
                context,
                args.device,
                args.auth_string,
                args.out,
                args.timeout,
            )
        )
    except capf.CapfError as error:
        print(f"capf: {error}", file=sys.stderr)
        return UNREACHABLE
    except (OSError, asyncio.TimeoutError, ssl.SSLError) as error:
        print(f"capf: cannot reach {args.server}: {error}", file=sys.stderr)
        return UNREACHABLE
    print(outcome.result)
    if outcome.is_success:
        return SUCCESS
    if outcome.result in ("communication_failure",):
        return UNREACHABLE
    return REFUSED


if __name__ == "__main__":
    sys.exit(main())
