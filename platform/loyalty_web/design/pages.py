"""Rendering a page or, for an htmx request, just the fragment it asked for.

One view renders both: the full page on a normal request (so every state has a
URL and works on reload) and the named partial template when htmx swaps a part
of the page. Every web response carries a Content-Security-Policy that allows
only the project's own origin.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data:",
        "style-src 'self'",
        "script-src 'self'",
        "connect-src 'self'",
        "font-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "object-src 'none'",
    ]
)


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def render_page(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    *,
    partial: str | None = None,
    status: int = 200,
) -> HttpResponse:
    """The full page, or ``partial`` when htmx asks for a fragment of it."""
    chosen = partial if partial and is_htmx(request) else template
    response = render(request, chosen, context, status=status)
    if partial:
        response["Vary"] = "HX-Request"
    return response


def secure_headers(response: HttpResponseBase) -> HttpResponseBase:
    response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.setdefault("Referrer-Policy", "same-origin")
    response.setdefault("X-Content-Type-Options", "nosniff")
    response.setdefault("Cache-Control", "no-store")
    return response


def web_view(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Decorate every web view: security headers on whatever it answers."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        return secure_headers(view(request, *args, **kwargs))

    return wrapped
