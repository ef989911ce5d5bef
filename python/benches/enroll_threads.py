#!/usr/bin/env python3
"""Enrollments per second from Python threads (a benchmark, not a test).

Each enrollment is a whole CAPF session in memory: a ServerSession and a
PhoneSession through the host contract, the server issuing a real EC P-256
LSC with `capf.LscIssuer` and, with ``--auth auth-string``, checking the
PBKDF2 hash of the string. The native calls release the GIL, so the rate
should grow with threads up to the number of free cores.

    python python/benches/enroll_threads.py [--seconds 2] [--threads 1,2,4]
        [--auth null|auth-string] [--iterations 10000]

Run it with the package installed (scripts/test-python.sh leaves it in
target/python-venv); that wheel is a debug build, so compare rates between
thread counts, not with release numbers.
"""

from __future__ import annotations

import argparse
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import capf

NOW = datetime(2026, 12, 5, 12, 0, 0, tzinfo=timezone.utc)
DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
DEVICE = "SEP001122334455"


def enroll(issuer: capf.LscIssuer, record: capf.DeviceRecord, spki: bytes,
           auth_string: str | None) -> bool:
    server = capf.ServerSession(1, NOW)
    phone = capf.PhoneSession(DEVICE, NOW, auth_string=auth_string)
    for _ in range(50):
        to_phone = []
        while (item := server.poll_output()) is not None:
            if isinstance(item, capf.Transmit):
                to_phone.append(item.data)
            elif isinstance(item, capf.Need):
                d = item.decision
                if d.kind == "look_up_device":
                    server.answer_device(record)
                elif d.kind == "issue_certificate":
                    assert d.subject_public_key_info is not None
                    server.answer_certificate(issuer.issue(DEVICE, d.subject_public_key_info, NOW))
                elif d.kind == "record_pending_certificate":
                    server.answer_pending_recorded()
                elif d.kind == "record_outcome":
                    server.answer_outcome_recorded()
        for frame in to_phone:
            phone.handle_input(frame)
        to_server = []
        while (item := phone.poll_output()) is not None:
            if isinstance(item, capf.Transmit):
                to_server.append(item.data)
            elif isinstance(item, capf.Need):
                if item.decision.kind == "generate_key":
                    phone.answer_key(spki)
                else:
                    phone.answer_store()
            elif isinstance(item.outcome, capf.PhoneOutcome):
                return item.outcome.is_success
        for frame in to_server:
            server.handle_input(frame)
        if not to_phone and not to_server:
            break
    return False


def measure(threads: int, seconds: float, make: "Enrollment") -> tuple[int, float]:
    counts = [0] * threads
    stop = time.monotonic() + seconds

    def work(index: int) -> None:
        while time.monotonic() < stop:
            if not make():
                raise RuntimeError("an enrollment failed")
            counts[index] += 1

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts), time.monotonic() - started


class Enrollment:
    def __init__(self, auth: str, iterations: int) -> None:
        self.issuer = capf.LscIssuer(
            (DATA / "issuer-ec-p256.cert.pem").read_text(),
            (DATA / "issuer-ec-p256.key.pem").read_text(),
        )
        self.spki, _ = capf.generate_key("ec:p256")
        self.auth_string = "4812" if auth == "auth-string" else None
        self.record = capf.DeviceRecord(
            DEVICE,
            key="ec:p256",
            auth=auth,
            auth_string=self.auth_string,
            auth_iterations=iterations,
        )

    def __call__(self) -> bool:
        return enroll(self.issuer, self.record, self.spki, self.auth_string)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--threads", default="1,2,4")
    parser.add_argument("--auth", choices=["null-string", "auth-string"], default="null-string")
    parser.add_argument("--iterations", type=int, default=10000)
    args = parser.parse_args()
    make = Enrollment(args.auth, args.iterations)
    base = None
    for threads in [int(n) for n in args.threads.split(",")]:
        done, elapsed = measure(threads, args.seconds, make)
        rate = done / elapsed
        base = base or rate
        print(f"{threads} thread(s): {done} enrollments in {elapsed:.2f} s = "
              f"{rate:.1f}/s ({rate / base:.2f}x one thread)")


if __name__ == "__main__":
    main()
