"""Shared pytest fixtures (event-file helpers are in eventwriter.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fresh_filecache(monkeypatch):
    """No parsed file remembered from another test, and no user regex from the environment: a reader test sees
    exactly what its own files give."""
    from traintriage.sources import filecache

    monkeypatch.delenv("TRAINTRIAGE_LOG_REGEX", raising=False)
    filecache.clear()
    yield
    filecache.clear()
