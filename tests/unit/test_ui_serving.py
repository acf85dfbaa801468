"""Serving choices made before the page starts: the login and the bind-address warning."""

from __future__ import annotations

import pytest
from rag.ui.app import exposure_warning, parse_auth

from rag.errors import ConfigError


def test_login_comes_from_user_colon_password() -> None:
    assert parse_auth("ann:s3cret:with-colon") == ("ann", "s3cret:with-colon")
    assert parse_auth(None) is None and parse_auth("") is None


@pytest.mark.parametrize("bad", ["annonly", ":pw", "ann:"])
def test_a_malformed_login_is_refused(bad: str) -> None:
    with pytest.raises(ConfigError, match="user:password"):
        parse_auth(bad)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_needs_no_login(host: str) -> None:
    assert exposure_warning(host, None) is None


def test_an_exposed_address_without_login_is_warned_about() -> None:
    warning = exposure_warning("0.0.0.0", None)
    assert warning and "RAG_UI_AUTH" in warning
    assert exposure_warning("0.0.0.0", ("ann", "pw")) is None
