"""Who may open a portal page: the member this session was started for, while that
member is active, the session has not expired and "sign out everywhere" has not
revoked it (the rule lives in ``coalition.member_auth``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.utils.translation import gettext_noop

from coalition.member_auth.selectors import member_for_session, member_session_generation
from coalition.members.models import Member
from loyalty_kernel import clock
from loyalty_web.design.pages import secure_headers

SESSION_MEMBER = "portal_member"
SESSION_GENERATION = "portal_member_generation"
SESSION_STARTED = "portal_member_started"
SIGN_IN_URL = "/portal/sign-in/"


def start_member_session(request: HttpRequest, member: Member) -> None:
    """A fresh session (new key, nothing carried over: no staff or operator login
    and no earlier member) for ``member``, idle-limited by the setting."""
    request.session.flush()
    request.session.update(member_session_values(member))
    request.session.set_expiry(settings.LOYALTY_MEMBER_SESSION_IDLE_SECONDS)


def member_session_values(member: Member) -> dict[str, Any]:
    """What a member's session holds (tests' signed-in clients use it too)."""
    return {
        SESSION_MEMBER: member.pk,
        SESSION_GENERATION: member_session_generation(member.pk),
        SESSION_STARTED: clock.now().isoformat(),
    }


def end_member_session(request: HttpRequest) -> None:
    request.session.flush()


def signed_in_member(request: HttpRequest) -> Member | None:
    """The member this session is for, or None (signed out, expired, revoked, blocked)."""
    member_id = request.session.get(SESSION_MEMBER)
    started = request.session.get(SESSION_STARTED)
    if member_id is None or started is None:
        return None
    max_age = timedelta(seconds=settings.LOYALTY_MEMBER_SESSION_MAX_SECONDS)
    if datetime.fromisoformat(started) + max_age <= clock.now():
        return None
    generation = int(request.session.get(SESSION_GENERATION, 0))
    return member_for_session(int(member_id), generation)


def member_page(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        member = signed_in_member(request)
        if member is None:
            if request.session.get(SESSION_MEMBER) is not None:
                end_member_session(request)  # expired or revoked: forget it
            sign_in = SIGN_IN_URL + "?" + urlencode({"next": request.get_full_path()})
            return secure_headers(HttpResponseRedirect(sign_in))
        request.member = member  # type: ignore[attr-defined]
        # Each visit restarts the idle limit.
        request.session.set_expiry(settings.LOYALTY_MEMBER_SESSION_IDLE_SECONDS)
        return secure_headers(view(request, *args, **kwargs))

    return wrapped


# The portal's navigation: (key, url, label). Each area adds its entry here.
NAV: tuple[tuple[str, str, str], ...] = (
    ("home", "/portal/", gettext_noop("Home")),
    ("history", "/portal/history/", gettext_noop("History")),
    ("rewards", "/portal/rewards/", gettext_noop("Rewards")),
    ("vouchers", "/portal/vouchers/", gettext_noop("My vouchers")),
    ("give", "/portal/give/", gettext_noop("Give")),
    ("profile", "/portal/profile/", gettext_noop("Profile")),
)


def portal_context(request: HttpRequest, current: str, **extra: Any) -> dict[str, Any]:
    return {
        "member": getattr(request, "member", None),
        "nav": [{"key": key, "url": url, "label": label} for key, url, label in NAV],
        "current": current,
        **extra,
    }
