"""Two-step sign-in for tests: a member of staff with it on, and the code their
authenticator app would show (now, or some 30-second steps later: a code works once)."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from tenants.partners.models import Partner
from tenants.staff import services, two_factor

PASSWORD = "correct horse battery 9"


def code_for(user: Any, *, step_ahead: int = 0) -> str:
    """What the person's app shows now (or ``step_ahead`` steps of 30 s later)."""
    device = TOTPDevice.objects.get(user_id=user.pk)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = totp.time + step_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def staff_member(partner: Partner) -> Any:
    email = f"two-{uuid4().hex[:8]}@example.com"
    return services.staff_member_create(
        partner_id=partner.pk, email=email, password=PASSWORD, role="manager"
    ).user


def turned_on(user: Any, partner: Partner) -> Any:
    two_factor.two_factor_start(user=user)
    two_factor.two_factor_confirm(user=user, code=code_for(user), partner_id=partner.pk)
    return user
