"""Plain Python types of the `capf` package."""

from __future__ import annotations

import enum

__all__ = ["Role"]


class Role(enum.IntEnum):
    """The role of a trust-list record (tag 4). Codes this package does not
    name become ``UNKNOWN_<code>`` members with the code as value."""

    SAST = 0
    """May sign trust lists."""
    CCM = 1
    """Call-control TLS server."""
    CCM_TFTP = 2
    """Call control and TFTP; may sign config files."""
    TFTP = 3
    """Provisioning server; signs config files."""
    CAPF = 4
    """Certificate Authority Proxy Function."""
    SRST = 5
    """Survivable Remote Site Telephony router."""
    APP_SERVER = 7
    """HTTPS application server."""
    TVS = 21
    """Trust Verification Service (ITLs only)."""

    @classmethod
    def _missing_(cls, value: object) -> Role | None:
        if isinstance(value, int) and 0 <= value <= 0xFFFF:
            member = int.__new__(cls, value)
            member._name_ = f"UNKNOWN_{value}"
            member._value_ = value
            return member
        return None
