"""Invitation links: a fresh token each time, only its hash stored (and the hash of
a token is always the same), and addresses cleaned or refused with the caller's
own typed error (here the operator app's) naming the field."""

from __future__ import annotations

import pytest

from coalition.operators.errors import InvalidOperatorData as _Refused
from loyalty_kernel.invitations import email_cleaned, invitation_token, token_hash


def test_tokens_are_fresh_and_only_their_hash_is_kept() -> None:
    first, second = invitation_token(), invitation_token()
    assert first != second
    assert len(first) >= 43  # 32 random bytes
    assert token_hash(first) == token_hash(first) != token_hash(second)
    assert len(token_hash(first)) == 64
    assert first not in token_hash(first)
    assert token_hash("") == token_hash(None)  # type: ignore[arg-type]


def test_addresses_are_cleaned_or_refused_with_the_callers_error() -> None:
    assert email_cleaned("  Ana.Garcia@Example.COM ", error=_Refused) == "ana.garcia@example.com"
    for bad in ("", "   ", "not an address", "a@", None):
        with pytest.raises(_Refused) as refused:
            email_cleaned(bad, error=_Refused)  # type: ignore[arg-type]
        assert refused.value.field == "email"
        assert "right format" in refused.value.message
