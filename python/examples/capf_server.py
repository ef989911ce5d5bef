#!/usr/bin/env python3
"""A complete CAPF server in Python: asyncio, Python's own ``ssl``, and the
same registry file, rules and durability promise as ``capf serve``.

    python capf_server.py --listen 0.0.0.0:3804 --cert CAPF.pem --key CAPF.key \\
        --db capf.db [--issuer ISSUER.pem --issuer-key ISSUER.key] \\
        [--verify MIC_CA.pem] [--auth-key-file FILE] [--legacy-tls] [--workers N]
        [--est-url URL --est-ca CA.pem (--est-user U --est-password-file F |
         --est-cert C --est-key K) [--est-timeout-seconds N]] [--offline-ca]

Devices are scheduled with ``capf device add --db capf.db …`` (or
``capf.Registry.add_device``). Every decision goes through
``capf.RegistryHost``, which makes it with capf-registry's functions as
``capf serve`` does: a certificate is in the ledger before it is sent, and
the outcome is recorded before the final END_SESSION, so the registry is
never behind what a phone was told. SIGINT/SIGTERM stop it gracefully.

``--legacy-tls`` (as ``capf serve --legacy-tls``) also accepts the older
phones (7940/7960 and old firmware): TLS 1.0 and 1.1 besides 1.2, and the
CBC and RSA key-exchange suites such as ``AES128-SHA`` at OpenSSL security
level 0 (an RSA certificate is needed for those suites). Off by default;
a warning at start says what it enables.

``--workers N`` runs N processes on one listening socket (the event loop
of one process uses one core); the registry's claims keep one operation
per device across them.

``--est-url`` (as ``capf serve --est-url``): LSCs are signed by an online
CA through EST (RFC 7030 ``/simpleenroll``, HTTPS whose certificate
``--est-ca`` issues, HTTP basic or TLS client-certificate authentication)
instead of the local issuer. Phones must send a request signed by their new
key (``enroll.py --send-csr``); one that does not, a CA that refuses, and a
CA that does not answer within ``--est-timeout-seconds`` end the session
with END_SESSION 7 and the status "CA Rejected Connection" or "CA
Communication Failure" (capf-registry's rule). The CA's own certificates
(``/cacerts``) are read at start and trusted as LSC issuers, so phones later
authenticate with the LSCs it signed; a server that cannot read them does
not start.

``--offline-ca`` (as ``capf serve --offline-ca``; not with ``--est-url``):
nothing is issued; the phone's request is kept in the registry and the
session ends deferred (END_SESSION 0, "Operation Pending"). List the
requests with ``capf ca csr list`` (or ``Registry.certificate_requests``),
import the certificates signed elsewhere with ``capf ca import`` (or
``Registry.import_certificate``): they reach the phone at its next session.

Exit status as ``capf``: 0 stopped cleanly, 2 bad usage or cannot start.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional, Union

import capf

SUCCESS, USAGE = 0, 2
READ_SIZE = 65536


# What --legacy-tls adds to the modern defaults: the CBC suites with RSA
# key exchange (AES128-SHA, AES256-SHA, DES-CBC3-SHA…) that TLS 1.0
# phones offer, next to the ECDHE suites; @SECLEVEL=0 lets OpenSSL use
# SHA-1 MACs and the old protocol versions at all.
LEGACY_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:ECDHE+AES:AES128-SHA:AES256-SHA:DES-CBC3-SHA:@SECLEVEL=0"
# OpenSSL's option value; the ssl module names no constant for it.
SSL_OP_DONT_INSERT_EMPTY_FRAGMENTS = 0x800
LEGACY_WARNING = (
    "capf_server: WARNING: --legacy-tls: accepting TLS 1.0 and 1.1 and the CBC suites "
    "with RSA key exchange (AES128-SHA, AES256-SHA, DES-CBC3-SHA) at OpenSSL security "
    "level 0, for phones that speak nothing newer. These are weaker: no forward secrecy "
    "(a stolen CAPF key decrypts recorded sessions), SHA-1 MACs and CBC padding attacks "
    "(BEAST, Lucky Thirteen). Use it only while such phones are in service."
)


def tls_context(cert: str, key: str, legacy: bool) -> ssl.SSLContext:
    """The server's TLS: Python's defaults (TLS 1.2+), or with `legacy`
    TLS 1.0-1.2 and the legacy suites."""
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if legacy:
        with warnings.catch_warnings():
            # TLS 1.0 is deprecated; the warning at start says so.
            warnings.simplefilter("ignore", DeprecationWarning)
            tls.minimum_version = ssl.TLSVersion.TLSv1
        tls.maximum_version = ssl.TLSVersion.TLSv1_2
        tls.set_ciphers(LEGACY_CIPHERS)
        # CPython clears SSL_OP_DONT_INSERT_EMPTY_FRAGMENTS from OpenSSL's
        # defaults, so in TLS 1.0 CBC every frame would be split 1/n-1 into
        # two records (the BEAST countermeasure); phones older than that
        # countermeasure read one record per CAPF frame and stall on a split.
        tls.options |= SSL_OP_DONT_INSERT_EMPTY_FRAGMENTS
    tls.load_cert_chain(cert, key)
    return tls


def now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class HostLimits:
    """The registry settings every connection's host uses."""

    max_failed_attempts: int
    validity_days: int
    key_generation_timeout: float


class Server:
    """What every connection shares: TLS, the registry, the issuer."""

    def __init__(
        self,
        tls: ssl.SSLContext,
        registry: capf.Registry,
        issuer: Issuer,
        manufacturing_roots: list[bytes],
        limits: HostLimits,
    ) -> None:
        self.tls = tls
        self.registry = registry
        self.issuer = issuer.signer
        self.lsc_issuers = issuer.lsc_issuers
        self.manufacturing_roots = manufacturing_roots
        self.limits = limits
        self.connections: set[asyncio.Task[None]] = set()

    async def serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.connections.add(task)
        host = self.registry.host(
            self.issuer,
            max_failed_attempts=self.limits.max_failed_attempts,
            validity_days=self.limits.validity_days,
            key_generation_timeout=self.limits.key_generation_timeout,
            offline_ca=self.issuer is None,
        )
        session = capf.ServerSession(
            secrets.randbits(32),
            now(),
            max_failed_attempts=self.limits.max_failed_attempts,
            lsc_issuers=self.lsc_issuers,
            manufacturing_roots=self.manufacturing_roots,
        )
        loop = asyncio.get_running_loop()
        try:
            while True:
                done = await self.drain(session, host, writer, loop)
                if done:
                    break
                deadline = session.poll_timeout()
                timeout = None
                if deadline is not None:
                    timeout = max(0.0, (deadline - now()).total_seconds())
                try:
                    data = await asyncio.wait_for(reader.read(READ_SIZE), timeout)
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
        except (ConnectionError, ssl.SSLError, capf.CapfError) as error:
            print(f"capf_server: connection ended: {error}", file=sys.stderr)
        finally:
            # A session that ended without recording its outcome still
            # holds its operation: free it now rather than at lease end.
            await loop.run_in_executor(None, host.release)
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, ssl.SSLError):
                pass
            if task is not None:
                self.connections.discard(task)

    async def drain(
        self,
        session: capf.ServerSession,
        host: capf.RegistryHost,
        writer: asyncio.StreamWriter,
        loop: asyncio.AbstractEventLoop,
    ) -> bool:
        """Runs the session's outputs; True once it is over."""
        while (item := session.poll_output()) is not None:
            if isinstance(item, capf.Transmit):
                # One frame, one write (one TLS record), at once.
                writer.write(item.data)
                try:
                    await writer.drain()
                except (ConnectionError, ssl.SSLError):
                    session.handle_transport_error()
            elif isinstance(item, capf.Need):
                # Registry writes, PBKDF2 and chain checks release the GIL:
                # a thread keeps the event loop free meanwhile.
                await loop.run_in_executor(None, host.decide, session, item.decision)
            else:
                outcome = item.outcome
                if isinstance(outcome, capf.ServerOutcome):
                    print(
                        f"capf_server: {outcome.device_name or '-'}: {outcome.result}"
                        f" (END_SESSION {outcome.end_reason})",
                        file=sys.stderr,
                    )
                return True
        return False


def parse_listen(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--listen: expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


@dataclass(frozen=True)
class Issuer:
    """Who signs LSCs (the local issuer, or the EST CA with --est-url) and
    the certificates trusted as LSC issuers when phones authenticate."""

    signer: Optional[Union[capf.LscIssuer, capf.EstIssuer]]
    """``None``: the offline CA (--offline-ca) issues nothing."""
    lsc_issuers: list[bytes]


def read_password(path: str) -> str:
    """--est-password-file: its one line (never on the command line)."""
    text = Path(path).read_text()
    password = text.removesuffix("\n").removesuffix("\r")
    if not password:
        raise ValueError(f"--est-password-file {path}: empty")
    return password


def load_issuer(args: argparse.Namespace) -> Issuer:
    """The local issuer, or with --est-url the EST CA, whose certificates
    (/cacerts) join the local issuer's as LSC issuers."""
    local = capf.LscIssuer(
        Path(args.issuer or args.cert).read_text(),
        Path(args.issuer_key or args.key).read_text(),
    )
    if args.offline_ca:
        return Issuer(None, [local.certificate])
    if args.est_url is None:
        return Issuer(local, [local.certificate])
    est = capf.EstIssuer(
        args.est_url,
        Path(args.est_ca).read_bytes(),
        user=args.est_user,
        password=read_password(args.est_password_file) if args.est_user else None,
        client_certificate=Path(args.est_cert).read_bytes() if args.est_cert else None,
        client_key=Path(args.est_key).read_bytes() if args.est_key else None,
        timeout_seconds=args.est_timeout_seconds,
    )
    try:
        published = est.ca_certificates()
    except capf.EstError as error:
        raise ValueError(f"--est-url: reading the CA's certificates (/cacerts): {error}") from None
    print(
        f"capf_server: EST: {len(published)} CA certificate(s) trusted as LSC issuers",
        file=sys.stderr,
    )
    return Issuer(est, [local.certificate, *published])


def load(
    args: argparse.Namespace,
) -> tuple[ssl.SSLContext, Issuer, list[bytes], capf.Registry]:
    """What the flags name: TLS, the issuer, the manufacturing roots and the
    registry; raises what a bad flag causes."""
    tls = tls_context(args.cert, args.key, args.legacy_tls)
    issuer = load_issuer(args)
    roots = [Path(args.verify).read_bytes()] if args.verify else []
    registry = capf.Registry(args.db, auth_key_file=args.auth_key_file)
    # Fails now, not at the first phone, when the key file is missing.
    registry.host(issuer.signer, offline_ca=issuer.signer is None)
    return tls, issuer, roots, registry


async def run(args: argparse.Namespace) -> int:
    try:
        host_name, port = parse_listen(args.listen)
        tls, issuer, roots, registry = load(args)
    except (OSError, ValueError, ssl.SSLError, capf.CapfError) as error:
        print(f"capf_server: {error}", file=sys.stderr)
        return USAGE
    if args.legacy_tls and args.listen_fd is None:
        print(LEGACY_WARNING, file=sys.stderr)
    # The registry's settings (`capf settings`), read once at start as
    # capf serve reads them, each overridden by its flag; passed to every
    # connection's host so that it does not read them again.
    settings = registry.settings()
    limits = HostLimits(
        max_failed_attempts=(
            int(settings["max-failed-attempts"])
            if args.max_failed_attempts is None
            else args.max_failed_attempts
        ),
        validity_days=(
            int(settings["validity-days"]) if args.validity_days is None else args.validity_days
        ),
        key_generation_timeout=float(settings["key-generation-timeout"]),
    )
    server = Server(tls, registry, issuer, roots, limits)
    # Stop handlers first: a signal from the moment the address is known
    # stops the server gracefully.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        if args.listen_fd is not None:
            # A worker of --workers: the supervisor's listening socket.
            listener = await asyncio.start_server(
                server.serve_connection, sock=socket.socket(fileno=args.listen_fd), ssl=tls
            )
        else:
            listener = await asyncio.start_server(
                server.serve_connection, host_name, port, ssl=tls
            )
    except OSError as error:
        print(f"capf_server: cannot listen on {args.listen}: {error}", file=sys.stderr)
        return USAGE
    bound = listener.sockets[0].getsockname()
    address = f"{bound[0]}:{bound[1]}"
    print(f"capf_server: listening on {address}", file=sys.stderr)
    if args.ready_file:
        write_ready_file(args.ready_file, address)
    async with listener:
        await stop.wait()
        listener.close()
        # Sessions in progress finish (or time out) before the exit.
        pending = list(server.connections)
        if pending:
            await asyncio.wait(pending, timeout=args.grace)
    print("capf_server: stopped", file=sys.stderr)
    return SUCCESS


def supervise(args: argparse.Namespace, argv: list[str]) -> int:
    """--workers N: one listening socket shared by N worker processes (each
    this program with its own event loop and Registry; the registry's
    claims keep one operation per device across them), so the server uses
    every core instead of one. SIGINT/SIGTERM stop the workers gracefully;
    the exit status is 0 only when every worker stopped cleanly."""
    try:
        host_name, port = parse_listen(args.listen)
        # Bad settings fail here, once, before any worker starts.
        load(args)
        family = socket.AF_INET6 if ":" in host_name else socket.AF_INET
        listening = socket.create_server((host_name, port), family=family, backlog=1024)
    except (OSError, ValueError, ssl.SSLError, capf.CapfError) as error:
        print(f"capf_server: {error}", file=sys.stderr)
        return USAGE
    if args.legacy_tls:
        print(LEGACY_WARNING, file=sys.stderr)
    fd = listening.fileno()
    worker_argv = [*argv, "--workers", "1", "--ready-file", "", "--listen-fd", str(fd)]
    workers = [
        subprocess.Popen([sys.executable, os.path.abspath(__file__), *worker_argv], pass_fds=[fd])
        for _ in range(args.workers)
    ]
    bound = listening.getsockname()
    address = f"{bound[0]}:{bound[1]}" if family == socket.AF_INET else f"[{bound[0]}]:{bound[1]}"
    print(f"capf_server: listening on {address} ({args.workers} workers)", file=sys.stderr)
    if args.ready_file:
        write_ready_file(args.ready_file, address)
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    # A worker that dies on its own stops the others: a half-running server
    # would look healthy to a monitor.
    while not stopping and all(worker.poll() is None for worker in workers):
        time.sleep(0.2)
    if not stopping:
        stop(signal.SIGTERM, None)
    statuses = [worker.wait() for worker in workers]
    listening.close()
    print("capf_server: stopped", file=sys.stderr)
    return SUCCESS if not any(statuses) else 1


def write_ready_file(path: str, address: str) -> None:
    """Writes {"capf": address} whole, then renames: a reader never sees it
    half written."""
    ready = Path(path)
    partial = ready.with_name(ready.name + ".partial")
    partial.write_text(json.dumps({"capf": address}))
    os.replace(partial, ready)


def est_usage(args: argparse.Namespace) -> Optional[str]:
    """What is wrong with the --est-* flags together, as capf serve says."""
    given = [
        name
        for name in ("est_ca", "est_user", "est_password_file", "est_cert", "est_key")
        if getattr(args, name) is not None
    ]
    if args.offline_ca and args.est_url is not None:
        return "--offline-ca and --est-url conflict (one issuer per server)"
    if args.est_url is None:
        if given:
            return f"--{given[0].replace('_', '-')} needs --est-url"
        return None
    if args.est_ca is None:
        return "--est-url needs --est-ca"
    if (args.est_user is None) != (args.est_password_file is None):
        return "--est-user and --est-password-file go together"
    if (args.est_cert is None) != (args.est_key is None):
        return "--est-cert and --est-key go together"
    if args.est_user is not None and args.est_cert is not None:
        return "--est-user and --est-cert cannot be used together"
    if args.est_timeout_seconds < 1:
        return "--est-timeout-seconds: at least 1"
    return None


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="A CAPF server (asyncio, ssl, registry-backed)")
    parser.add_argument("--listen", required=True, metavar="HOST:PORT")
    parser.add_argument("--cert", required=True, metavar="CAPF.pem")
    parser.add_argument("--key", required=True, metavar="CAPF.key")
    parser.add_argument("--db", required=True, metavar="capf.db")
    parser.add_argument("--issuer", metavar="ISSUER.pem", help="LSC issuer (default: --cert)")
    parser.add_argument("--issuer-key", metavar="ISSUER.key", help="its key (default: --key)")
    parser.add_argument("--verify", metavar="MIC_CA.pem", help="manufacturing roots (MIC auth)")
    parser.add_argument("--auth-key-file", metavar="FILE")
    parser.add_argument(
        "--max-failed-attempts",
        type=int,
        metavar="N",
        help="lock a device after N failed authentications (default: the registry setting)",
    )
    parser.add_argument(
        "--validity-days",
        type=int,
        metavar="DAYS",
        help="validity of issued LSCs (default: the registry setting)",
    )
    parser.add_argument("--grace", type=float, default=30.0, metavar="SECONDS")
    parser.add_argument(
        "--est-url",
        metavar="URL",
        help="have LSCs signed by an online CA through EST (RFC 7030); phones must send a "
        "signed request; needs --est-ca",
    )
    parser.add_argument(
        "--est-ca", metavar="CA.pem", help="certificates trusted to issue the EST server's TLS"
    )
    parser.add_argument("--est-user", metavar="USER", help="HTTP basic authentication user")
    parser.add_argument(
        "--est-password-file", metavar="FILE", help="file holding the --est-user password"
    )
    parser.add_argument("--est-cert", metavar="CERT.pem", help="TLS client certificate for EST")
    parser.add_argument("--est-key", metavar="KEY.pem", help="its private key (PKCS#8 PEM)")
    parser.add_argument(
        "--est-timeout-seconds",
        type=int,
        default=30,
        metavar="N",
        help="seconds one EST enrollment may take (default 30)",
    )
    parser.add_argument(
        "--offline-ca",
        action="store_true",
        help="issue nothing: keep phones' requests for an offline CA (capf ca csr list / "
        "capf ca import); not with --est-url",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="worker processes sharing the listening socket (default 1; the number of cores "
        "uses them all)",
    )
    parser.add_argument("--listen-fd", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--ready-file", metavar="FILE", help="write the bound address here")
    parser.add_argument(
        "--legacy-tls",
        action="store_true",
        help="also accept TLS 1.0/1.1 and AES128-SHA-style suites (older phones; weaker)",
    )
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return SUCCESS if exit_.code == 0 else USAGE
    if (args.issuer is None) != (args.issuer_key is None):
        print("capf_server: --issuer and --issuer-key go together", file=sys.stderr)
        return USAGE
    if args.workers < 1:
        print("capf_server: --workers: at least 1", file=sys.stderr)
        return USAGE
    problem = est_usage(args)
    if problem is not None:
        print(f"capf_server: {problem}", file=sys.stderr)
        return USAGE
    if args.workers > 1:
        return supervise(args, list(sys.argv[1:] if argv is None else argv))
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
