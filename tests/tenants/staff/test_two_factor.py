"""Two-step sign-in: turning it on proves the app holds the key, a code works
once, wrong codes count towards the lock-out, and a known password cannot reset
the count of guessed codes."""

from __future__ import annotations

from typing import Any

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from coalition.audit.models import AuditEntry
from loyalty_kernel import clock
from tenants.partners.models import Partner
from tenants.staff import lockout, services, two_factor
from tenants.staff.errors import (
    LoginLockedOut,
    TwoFactorAlreadyOn,
    TwoFactorCodeWrong,
    TwoFactorNotOn,
)
from tenants.staff.models import LoginAttempt
from tests.testkit.two_factor import PASSWORD, code_for, staff_member, turned_on, wrong


@pytest.mark.django_db
def test_turning_it_on_needs_a_code_from_the_app(partner_a: Partner) -> None:
    # given a manager who starts the set-up
    user = staff_member(partner_a)
    setup = two_factor.two_factor_start(user=user)
    assert setup.uri.startswith("otpauth://totp/")
    assert f"secret={setup.secret}" in setup.uri
    assert "<svg" in setup.qr_svg()
    assert "<script" not in setup.qr_svg()

    # when they type a wrong code, nothing is turned on and the field is named
    with pytest.raises(TwoFactorCodeWrong) as refused:
        two_factor.two_factor_confirm(
            user=user, code=wrong(code_for(user)), partner_id=partner_a.pk
        )
    assert refused.value.field == "code"
    assert not two_factor.two_factor_enabled(user)

    # then the right code turns it on, audited; pressing the button again changes nothing
    two_factor.two_factor_confirm(
        user=user, code=code_for(user, step_ahead=1), partner_id=partner_a.pk
    )
    assert two_factor.two_factor_enabled(user)
    two_factor.two_factor_confirm(user=user, code="000000", partner_id=partner_a.pk)
    assert (
        AuditEntry.objects.filter(action="staff.two_factor_on", object_id=str(user.pk)).count() == 1
    )
    with pytest.raises(TwoFactorAlreadyOn):
        two_factor.two_factor_start(user=user)


@pytest.mark.django_db
def test_starting_again_replaces_a_key_never_confirmed(partner_a: Partner) -> None:
    user = staff_member(partner_a)
    first = two_factor.two_factor_start(user=user)
    second = two_factor.two_factor_start(user=user)
    assert first.secret != second.secret
    assert TOTPDevice.objects.filter(user_id=user.pk).count() == 1
    assert two_factor.two_factor_pending(user=user) == second


@pytest.mark.django_db
def test_a_code_works_once(partner_a: Partner) -> None:
    user = turned_on(staff_member(partner_a), partner_a)
    later = code_for(user, step_ahead=1)  # the confirm used the current step
    two_factor.staff_second_step(user=user, partner_id=partner_a.pk, code=later, ip=None)
    with pytest.raises(TwoFactorCodeWrong):
        two_factor.staff_second_step(user=user, partner_id=partner_a.pk, code=later, ip=None)


@pytest.mark.django_db
def test_wrong_codes_lock_the_address_out_and_a_password_cannot_reset_the_count(
    partner_a: Partner, settings: Any
) -> None:
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # django-otp's own slow-down off: the count is ours
    user = turned_on(staff_member(partner_a), partner_a)
    for _ in range(lockout.MAX_FAILURES):
        # the password is right each time, which must not clear the failed codes
        services.staff_authenticate(
            partner_id=partner_a.pk, email=user.email, password=PASSWORD, ip="203.0.113.9"
        )
        with pytest.raises(TwoFactorCodeWrong):
            two_factor.staff_second_step(
                user=user, partner_id=partner_a.pk, code=wrong(code_for(user)), ip="203.0.113.9"
            )
    assert LoginAttempt.objects.filter(partner_id=partner_a.pk, email=user.email).count() == 5

    # then even the right password and code are refused for a while
    with pytest.raises(LoginLockedOut, match="Try again in"):
        services.staff_authenticate(
            partner_id=partner_a.pk, email=user.email, password=PASSWORD, ip=None
        )
    with pytest.raises(LoginLockedOut):
        two_factor.staff_second_step(
            user=user, partner_id=partner_a.pk, code=code_for(user, step_ahead=1), ip=None
        )

    # and after the window a right code signs in and clears the count
    later = clock.now() + lockout.LOCKOUT_WINDOW
    two_factor.staff_second_step(
        user=user, partner_id=partner_a.pk, code=code_for(user, step_ahead=1), ip=None, now=later
    )
    assert not LoginAttempt.objects.filter(partner_id=partner_a.pk, email=user.email).exists()


@pytest.mark.django_db
def test_repeated_wrong_codes_are_slowed_down_with_a_clear_message(partner_a: Partner) -> None:
    user = turned_on(staff_member(partner_a), partner_a)
    with pytest.raises(TwoFactorCodeWrong, match="not right"):
        two_factor.staff_second_step(
            user=user, partner_id=partner_a.pk, code=wrong(code_for(user)), ip=None
        )
    # django-otp waits after a failure before it checks another code
    with pytest.raises(TwoFactorCodeWrong, match=r"Wait \d+ seconds?"):
        two_factor.staff_second_step(
            user=user, partner_id=partner_a.pk, code=code_for(user, step_ahead=1), ip=None
        )


@pytest.mark.django_db
def test_turning_it_off_needs_a_current_code(partner_a: Partner) -> None:
    user = staff_member(partner_a)
    with pytest.raises(TwoFactorNotOn):
        two_factor.two_factor_disable(user=user, code="123456", partner_id=partner_a.pk)
    turned_on(user, partner_a)
    with pytest.raises(TwoFactorCodeWrong):
        two_factor.two_factor_disable(user=user, code="12345x", partner_id=partner_a.pk)
    assert two_factor.two_factor_enabled(user)
    two_factor.two_factor_disable(
        user=user, code=code_for(user, step_ahead=1), partner_id=partner_a.pk
    )
    assert not two_factor.two_factor_enabled(user)
    assert AuditEntry.objects.filter(action="staff.two_factor_off", object_id=str(user.pk)).exists()
