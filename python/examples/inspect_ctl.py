#!/usr/bin/env python3
"""Print a CTL or ITL file like ``capf trustlist show``, then verify it.

    python inspect_ctl.py CTLFile.tlv [--previous OLD_CTLFile.tlv]

Exit status as ``capf``: 0 the list verifies, 1 it does not (the answer is
no), 2 bad usage or a file that cannot be read or parsed.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import capf

LABELS = {capf.Role.CCM_TFTP: "CCM+TFTP", capf.Role.APP_SERVER: "APP-SERVER"}


def role_label(role: Optional[capf.Role]) -> str:
    if role is None:
        return "not present"
    return f"{LABELS.get(role, role.name)} ({int(role)})"


def field(name: str, value: object, width: int = 20) -> str:
    return f"{name + ':':<{width}}{value}"


def item(name: str, value: object) -> str:
    """A record's field: indented, values in the header's column."""
    return "  " + field(name, value, 18)


def show(path: Path, ctl: capf.TrustList) -> list[str]:
    header = ctl.header
    lines = [
        field("File", f"{path} ({len(ctl.data)} bytes)"),
        field("Version", header.version),
        field("Header length", header.header_length),
        field("Signer version", header.signer_version or "not present"),
        field("Signer name", header.signer_name or "not present"),
        field("Serial number", header.serial_number.hex()),
        field("Issuer name", header.issuer_name or "not present"),
        field("Hash algorithm", header.hash_algorithm),
        field("Signature length", f"{len(header.signature)} bytes"),
        field("Filename", header.filename or "not present"),
    ]
    if header.timestamp is not None:
        when = datetime.fromtimestamp(header.timestamp, timezone.utc)
        lines.append(field("Timestamp", when.strftime("%Y-%m-%dT%H:%M:%SZ")))
    for index, record in enumerate(ctl.records, start=1):
        lines += ["", f"Record {index} (offset {record.offset})"]
        lines.append(item("Role", role_label(record.role)))
        if record.dns_name is not None:
            lines.append(item("DNS name", record.dns_name))
        if record.subject_name is not None:
            lines.append(item("Subject name", record.subject_name))
        if record.issuer_name is not None:
            lines.append(item("Issuer name", record.issuer_name))
        if record.serial_number is not None:
            lines.append(item("Serial number", record.serial_number.hex()))
        if record.public_key is not None:
            lines.append(item("Public key", f"{len(record.public_key)} bytes"))
        if record.certificate is not None:
            sha1 = hashlib.sha1(record.certificate).hexdigest()
            lines.append(item("Certificate", f"{len(record.certificate)} bytes, SHA-1 {sha1}"))
        if record.ip_address is not None:
            lines.append(item("IP address", record.ip_address))
    return lines


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Print and verify a CTL or ITL file")
    parser.add_argument("file", type=Path)
    parser.add_argument("--previous", type=Path, help="the list installed before (rollover)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit:
        return 2 if exit.code else 0
    try:
        ctl = capf.TrustList.from_file(args.file)
        previous = capf.TrustList.from_file(args.previous) if args.previous else None
    except capf.MalformedError as error:
        where = f" at offset {error.offset}" if error.offset is not None else ""
        print(f"capf: {args.file}: malformed{where}: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"capf: {error}", file=sys.stderr)
        return 2
    print("\n".join(show(args.file, ctl)))
    print()
    try:
        ctl.verify(previous)
    except capf.VerificationError as error:
        print(field("Verification", f"FAILED: {error}"))
        return 1
    print(field("Verification", "OK"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
