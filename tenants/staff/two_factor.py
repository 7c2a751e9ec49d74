"""Two-step sign-in for staff: a time-based one-time code (TOTP, RFC 6238) from an
authenticator app, after the password. Optional per person, and once on it holds on
every partner's console the person works at (the device belongs to the user).

The device is django-otp's ``TOTPDevice``: it refuses a code used before (a code
works once) and slows down repeated wrong codes. A wrong code also counts as a
failed sign-in for the address at that partner, so the password lock-out covers
guessing codes too; the counter is cleared only when the second step succeeds.

Turning it on takes two steps: ``two_factor_start`` makes an unconfirmed device
(the secret shown once as a QR code and as text), ``two_factor_confirm`` checks a
first code from the app, which proves the app holds the secret. Turning it off
needs a current code. Both are audited.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from coalition.audit.services import audit_record
from loyalty_kernel import clock
from tenants.staff.errors import TwoFactorAlreadyOn, TwoFactorCodeWrong, TwoFactorNotOn
from tenants.staff.lockout import failure_record, failures_clear, refuse_when_locked_out

DEVICE_NAME = "authenticator app"


@dataclass(frozen=True)
class TwoFactorSetup:
    secret: str  # base32, as an app takes it when typed in
    uri: str  # otpauth://, what the QR code holds

    def qr_svg(self) -> str:
        """The URI as an SVG QR code (paths only: no script, no inline style)."""
        import qrcode
        import qrcode.image.svg

        image = qrcode.make(self.uri, image_factory=qrcode.image.svg.SvgPathImage, border=2)
        out = io.BytesIO()
        image.save(out)
        svg = out.getvalue().decode()
        return svg[svg.index("<svg") :]


def two_factor_enabled(user: Any) -> bool:
    return TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).exists()


def _setup(device: TOTPDevice) -> TwoFactorSetup:
    return TwoFactorSetup(
        secret=base64.b32encode(device.bin_key).decode().rstrip("="), uri=device.config_url
    )


def two_factor_start(*, user: Any) -> TwoFactorSetup:
    """A fresh secret for the person's app (replacing an unconfirmed one)."""
    with transaction.atomic():
        if two_factor_enabled(user):
            raise TwoFactorAlreadyOn("Two-step sign-in is already on for your account")
        TOTPDevice.objects.filter(user_id=user.pk, confirmed=False).delete()
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return _setup(device)


def two_factor_pending(*, user: Any) -> TwoFactorSetup | None:
    """The secret being set up (shown again if the confirm code was wrong)."""
    device = TOTPDevice.objects.filter(user_id=user.pk, confirmed=False).first()
    return _setup(device) if device is not None else None


def _check(device: TOTPDevice | None, code: str) -> None:
    code = (code or "").replace(" ", "").strip()
    if device is None:
        raise TwoFactorNotOn("Two-step sign-in is not on for your account", field="code")
    allowed, why = device.verify_is_allowed()
    if not allowed:
        until = (why or {}).get("locked_until")
        seconds = max(1, int((until - clock.now()).total_seconds()) + 1) if until else 1
        raise TwoFactorCodeWrong(
            f"Too many wrong codes. Wait {seconds} second{'s' if seconds > 1 else ''}, "
            "then enter the newest code",
            field="code",
        )
    if not (code.isdigit() and len(code) == device.digits) or not device.verify_token(code):
        raise TwoFactorCodeWrong(
            "That code is not right. Enter the 6-digit code your app shows now", field="code"
        )


def two_factor_confirm(*, user: Any, code: str, partner_id: int | None) -> None:
    with transaction.atomic():
        device = (
            TOTPDevice.objects.select_for_update().filter(user_id=user.pk, confirmed=False).first()
        )
        if device is None:
            if two_factor_enabled(user):
                return  # confirmed already (the button pressed twice): nothing to do
            raise TwoFactorNotOn("Start again: choose Turn on", field="code")
        _check(device, code)
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        audit_record(
            actor=user,
            partner_id=partner_id,
            action="staff.two_factor_on",
            target=("user", user.pk),
            after={"two_factor": True},
        )


def two_factor_disable(*, user: Any, code: str, partner_id: int | None) -> None:
    with transaction.atomic():
        device = (
            TOTPDevice.objects.select_for_update().filter(user_id=user.pk, confirmed=True).first()
        )
        _check(device, code)
        TOTPDevice.objects.filter(user_id=user.pk).delete()
        audit_record(
            actor=user,
            partner_id=partner_id,
            action="staff.two_factor_off",
            target=("user", user.pk),
            before={"two_factor": True},
            after={"two_factor": False},
        )


def staff_second_step(
    *, user: Any, partner_id: int | None, code: str, ip: str | None, now: datetime | None = None
) -> None:
    """The code after the password at sign-in; a wrong one is a failed sign-in."""
    now = now or clock.now()
    email = (user.email or user.get_username()).lower()
    refuse_when_locked_out(partner_id=partner_id, email=email, now=now)
    device = TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).first()
    try:
        _check(device, code)
    except (TwoFactorCodeWrong, TwoFactorNotOn):
        failure_record(partner_id=partner_id, email=email, ip=ip, now=now)
        raise
    failures_clear(partner_id=partner_id, email=email)
