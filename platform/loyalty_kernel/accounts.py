"""User accounts found by e-mail address (users' names are their addresses), for
partner staff (``tenants.staff``) and operator staff (``coalition.operators``)
alike: the account a role is given to, and the one accepting an invitation opens
or proves."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from loyalty_kernel.errors import DomainError


def account_for_email(*, email: str, password: str | None) -> Any:
    """The user whose name is ``email``, made with ``password`` if there is none yet:
    how someone is given a role without an invitation (the demo seed, the operator
    console's own staff)."""
    users = get_user_model()
    user = users.objects.filter(username=email).first()
    if user is None:
        user = users.objects.create_user(username=email, email=email, password=password)
    return user


def invited_account(*, email: str, password: str, error: type[DomainError]) -> Any:
    """The user accepting an invitation to ``email``: a new one with ``password``
    (which must pass the password validators), or, for someone who already has an
    account, theirs when ``password`` is its password. ``error`` (the caller's
    typed error) names the field ``password`` otherwise."""
    users = get_user_model()
    user = users.objects.filter(username=email).first()
    if user is None:
        try:
            validate_password(password)
        except ValidationError as exc:
            raise error(" ".join(exc.messages), field="password") from None
        return users.objects.create_user(username=email, email=email, password=password)
    if not user.check_password(password):
        raise error("You already have an account: enter its password to accept", field="password")
    return user
