"""Shared fixtures."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    # Tests never write into the user's cache.
    monkeypatch.setenv("AIGC_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
