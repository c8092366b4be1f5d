"""Settings overrides for one test."""

from typing import Any

import pytest

from shared.settings import get_settings


def set_setting(monkeypatch: pytest.MonkeyPatch, name: str, value: Any) -> None:
    """Override a setting on the cached settings object for this test only."""
    monkeypatch.setattr(get_settings(), name, value)
