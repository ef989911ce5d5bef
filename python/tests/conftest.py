"""Shared fixtures: the test data folder (copies of the shared vectors, so
a clone of the repository tests on its own)."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture
def data() -> Path:
    return DATA
