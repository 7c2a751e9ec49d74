"""Integration pages of the merchant console (owners only, "manage_integration"):
API keys (create with scopes, the key shown once, revoke, last use) and webhook
endpoints (create, the signing secret shown once, disable, the delivery log,
redeliver one delivery).

Each view reads its input, calls one service or selector of ``coalition.api_keys``
or ``coalition.webhooks`` (the same ones the partner API uses) and renders; a
domain error is shown next to the field it names.

Shown once: a secret is put in the session by the request that created it and
taken out by the page that shows it, so a reload (or the back button) never shows
it again. A double submit carries the form's idempotency key: the second request
finds what the first created and goes to the same page, which still holds the
secret if the first answer was never displayed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from coalition.api_keys import selectors as key_selectors
from coalition.api_keys import services as key_services
from coalition.api_keys.errors import UnknownApiKey
from coalition.api_keys.models import ApiKey
from coalition.webhooks import selectors as webhook_selectors
from coalition.webhooks import services as webhook_services
from coalition.webhooks.errors import UnknownWebhookDelivery, UnknownWebhookEndpoint
from coalition.webhooks.models import WebhookEndpoint
from loyalty_kernel.errors import DomainError
from loyalty_kernel.idempotency import IdempotencyKey
from loyalty_web.console.access import staff_page
from loyalty_web.console.integration_forms import ApiKeyForm, WebhookEndpointForm
from loyalty_web.console.views import console_context
from loyalty_web.design.exports import csv_response
from loyalty_web.design.forms import show_domain_error
from loyalty_web.design.pages import render_page
from loyalty_web.design.pagination import Page, cursor_of

MANAGE = "manage_integration"
SHOWN_ONCE = "integration_shown_once"
DELIVERY_PAGE_SIZE = 25
CSV_LIMIT = 200  # the selector's largest page: a CSV is one page of the log, from the cursor


def _partner(request: HttpRequest) -> Any:
    return request.tenant  # type: ignore[attr-defined]


def _idempotency(request: HttpRequest, key: str) -> IdempotencyKey:
    # The form's key, scoped to this person at this partner: nobody else's form collides.
    return IdempotencyKey(f"console:{_partner(request).pk}:{request.user.pk}", key)


def _keep_shown_once(request: HttpRequest, kind: str, pk: int, secret: str) -> None:
    request.session[SHOWN_ONCE] = {"kind": kind, "id": pk, "secret": secret}


def _take_shown_once(request: HttpRequest, kind: str, pk: int) -> str | None:
    held = request.session.get(SHOWN_ONCE)
    if not held or held.get("kind") != kind or held.get("id") != pk:
        return None
    del request.session[SHOWN_ONCE]
    return str(held["secret"])


# --- the overview -------------------------------------------------------------------------


@staff_page(MANAGE)
def overview(request: HttpRequest) -> HttpResponse:
    partner = _partner(request)
    return render_page(
        request,
        "loyalty_web/console/integration.html",
        console_context(
            request,
            "integration",
            keys=key_selectors.api_keys_of_partner(partner_id=partner.pk),
            endpoints=webhook_selectors.webhook_endpoints(partner_id=partner.pk),
        ),
    )


# --- API keys -----------------------------------------------------------------------------


def _key(request: HttpRequest, key_id: int) -> ApiKey:
    try:
        return key_selectors.api_key_of(partner_id=_partner(request).pk, key_id=key_id)
    except UnknownApiKey:
        raise Http404 from None


@staff_page(MANAGE)
@require_http_methods(["GET", "POST"])
def key_create(request: HttpRequest) -> HttpResponse:
    return _create_with_secret_page(
        request,
        ApiKeyForm(request.POST or None),
        "loyalty_web/console/api_key_form.html",
        "key",
        "console:api_key_created",
        lambda data, idempotency: key_services.api_key_create(
            name=data["name"],
            scopes=data["scopes"],
            partner=_partner(request),
            idempotency=idempotency,
            actor=request.user,
        ),
    )


def _create_with_secret_page(
    request: HttpRequest,
    form: forms.Form,
    template: str,
    kind: str,
    created_url_name: str,
    create: Callable[[dict[str, Any], IdempotencyKey], tuple[Any, str | None]],
) -> HttpResponse:
    """The form of something that comes with a secret (an API key, a webhook
    endpoint): a valid POST creates it and shows the secret once, on the next page."""
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            created, secret = create(data, _idempotency(request, data["idempotency_key"]))
        except DomainError as error:
            show_domain_error(form, error)
        else:
            # A retry of a key gets no secret (its text is never stored); a retry of an
            # endpoint gets the same one (it is stored: signing needs it).
            if secret is not None:
                _keep_shown_once(request, kind, created.pk, secret)
            return HttpResponseRedirect(reverse(created_url_name, args=[created.pk]))
    return render_page(
        request,
        template,
        console_context(request, "integration", form=form),
        status=400 if form.errors else 200,
    )


def _secret_page(
    request: HttpRequest, template: str, kind: str, pk: int, **context: Any
) -> HttpResponse:
    """The page that shows a new secret, once."""
    response = render_page(
        request,
        template,
        console_context(
            request, "integration", secret=_take_shown_once(request, kind, pk), **context
        ),
    )
    response["Cache-Control"] = "no-store"  # the back button must not bring the secret back
    return response


def _switch_off_page(
    request: HttpRequest,
    template: str,
    was_active: bool,
    switch_off: Callable[[], Any],
    done: str,
    **context: Any,
) -> HttpResponse:
    """A check page, then the switch-off on its POST; saying it is done only when it
    was on, so a second press says nothing new."""
    if request.method == "POST":
        switch_off()
        if was_active:
            messages.success(request, done)
        return HttpResponseRedirect(reverse("console:integration"))
    return render_page(request, template, console_context(request, "integration", **context))


@staff_page(MANAGE)
def key_created(request: HttpRequest, key_id: int) -> HttpResponse:
    key = _key(request, key_id)
    return _secret_page(request, "loyalty_web/console/api_key_created.html", "key", key.pk, key=key)


@staff_page(MANAGE)
@require_http_methods(["GET", "POST"])
def key_revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    key = _key(request, key_id)
    return _switch_off_page(
        request,
        "loyalty_web/console/api_key_revoke.html",
        key.is_active,
        lambda: key_services.api_key_revoke(key=key, actor=request.user),
        _("Key “%(name)s” is revoked. Apps using it are refused from now on.") % {"name": key.name},
        key=key,
    )


# --- webhook endpoints --------------------------------------------------------------------


def _endpoint(request: HttpRequest, endpoint_id: int) -> WebhookEndpoint:
    try:
        return webhook_selectors.webhook_endpoint_of(
            partner_id=_partner(request).pk, endpoint_id=endpoint_id
        )
    except UnknownWebhookEndpoint:
        raise Http404 from None


@staff_page(MANAGE)
@require_http_methods(["GET", "POST"])
def endpoint_create(request: HttpRequest) -> HttpResponse:
    return _create_with_secret_page(
        request,
        WebhookEndpointForm(request.POST or None),
        "loyalty_web/console/webhook_form.html",
        "endpoint",
        "console:webhook_created",
        lambda data, idempotency: webhook_services.webhook_endpoint_create(
            partner=_partner(request),
            url=data["url"],
            events=data["events"],
            idempotency=idempotency,
            actor=request.user,
        ),
    )


@staff_page(MANAGE)
def endpoint_created(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint(request, endpoint_id)
    return _secret_page(
        request,
        "loyalty_web/console/webhook_created.html",
        "endpoint",
        endpoint.pk,
        endpoint=endpoint,
    )


@staff_page(MANAGE)
@require_http_methods(["GET", "POST"])
def endpoint_disable(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint(request, endpoint_id)
    return _switch_off_page(
        request,
        "loyalty_web/console/webhook_disable.html",
        endpoint.is_active,
        lambda: webhook_services.webhook_endpoint_deactivate(endpoint=endpoint, actor=request.user),
        _("We no longer send events to %(url)s. Its delivery log stays.") % {"url": endpoint.url},
        endpoint=endpoint,
    )


@staff_page(MANAGE)
def endpoint_deliveries(request: HttpRequest, endpoint_id: int) -> HttpResponseBase:
    """The endpoint's delivery log, newest first, a page at a time (keyset on id)."""
    partner = _partner(request)
    endpoint = _endpoint(request, endpoint_id)
    before = cursor_of(request.GET)
    if request.GET.get("format") == "csv":
        rows = webhook_selectors.webhook_deliveries(
            partner_id=partner.pk, endpoint_id=endpoint.pk, before=before, limit=CSV_LIMIT
        )
        return csv_response(
            f"webhook-deliveries-{endpoint.pk}.csv",
            ["id", "created_at", "event", "status", "attempts", "last_status_code",
             "last_error", "delivered_at"],
            (
                [d.pk, d.created_at.isoformat(), d.event_type, d.status, d.attempts,
                 d.last_status_code, d.last_error,
                 d.delivered_at.isoformat() if d.delivered_at else ""]
                for d in rows.deliveries
            ),
        )  # fmt: skip
    found = webhook_selectors.webhook_deliveries(
        partner_id=partner.pk, endpoint_id=endpoint.pk, before=before, limit=DELIVERY_PAGE_SIZE
    )
    page: Page[Any] = Page(
        items=[
            {"delivery": d, "seen": webhook_services.delivery_seen_state(d)}
            for d in found.deliveries
        ],
        next_cursor=str(found.next_before) if found.next_before else None,
        first_page=before is None,
    )
    csv_query = request.GET.copy()
    csv_query["format"] = "csv"
    return render_page(
        request,
        "loyalty_web/console/webhook_deliveries.html",
        console_context(
            request,
            "integration",
            endpoint=endpoint,
            page=page,
            next_query=page.next_query(request.GET),
            first_query=page.first_query(request.GET),
            csv_query=csv_query.urlencode(),
        ),
        partial="loyalty_web/console/webhook_delivery_rows.html",
    )


@staff_page(MANAGE)
@require_POST
def delivery_redeliver(request: HttpRequest, endpoint_id: int, delivery_id: int) -> HttpResponse:
    endpoint = _endpoint(request, endpoint_id)
    back = reverse("console:webhook_deliveries", args=[endpoint.pk])
    try:
        delivery, queued = webhook_services.webhook_delivery_redeliver(
            partner_id=_partner(request).pk,
            delivery_id=delivery_id,
            endpoint_id=endpoint.pk,
            seen_state=request.POST.get("seen") or None,
            actor=request.user,
        )
    except UnknownWebhookDelivery:
        raise Http404 from None
    except DomainError as error:
        messages.error(request, error.message)
        return HttpResponseRedirect(back)
    if queued:
        messages.success(
            request, _("Delivery %(id)s is queued to be sent again.") % {"id": delivery.pk}
        )
    else:
        messages.info(
            request,
            _("Delivery %(id)s was already sent again or is on its way: nothing more to do.")
            % {"id": delivery.pk},
        )
    return HttpResponseRedirect(back)
