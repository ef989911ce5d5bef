"""examples/inspect_ctl.py prints a trust list as `capf trustlist show`
does and exits 0 (verifies), 1 (does not) or 2 (cannot be read)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "inspect_example", ROOT / "python/examples/inspect_ctl.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_real_ctl_is_printed_and_verifies(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = json.loads((data / "cucm-CTLFile.tlv.json").read_text())
    assert load_example().main([str(data / "cucm-CTLFile.tlv")]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "Version:            1.2" in lines
    assert f"Signer name:        {expected['header']['signer_name']}" in lines
    assert f"Timestamp:          {expected['header']['timestamp_utc']}" in lines
    for index, record in enumerate(expected["records"], start=1):
        assert f"Record {index} (offset {record['offset']})" in lines
        sha1 = record["certificate_sha1"]
        assert f"  Certificate:      {record['certificate_length']} bytes, SHA-1 {sha1}" in lines
    assert "  Role:             SAST (0)" in lines
    assert "  Role:             CCM+TFTP (2)" in lines
    assert "  IP address:       10.35.48.106" in lines
    assert lines[-1] == "Verification:       OK"


def test_tampered_ctl_exits_1_and_truncated_exits_2(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    example = load_example()
    assert example.main([str(data / "ctl-sha1-tampered.tlv")]) == 1
    assert capsys.readouterr().out.splitlines()[-1].startswith("Verification:       FAILED")
    assert example.main([str(data / "itl-sha1-truncated.tlv")]) == 2
    assert "at offset 5922" in capsys.readouterr().err
    assert example.main([str(data / "absent.tlv")]) == 2
    assert example.main([]) == 2
    # Rollover: the SHA-512 list is signed by the SAST of the SHA-1 list.
    assert example.main([str(data / "ctl-sha512.tlv"), "--previous", str(data / "ctl-sha1.tlv")]) == 0
    assert example.main([str(data / "cucm-CTLFile.tlv"), "--previous", str(data / "ctl-sha1.tlv")]) == 1
