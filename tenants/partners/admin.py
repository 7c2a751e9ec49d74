"""Operator admin for partners and their domains (public site only).

Partners are written only through the registry's services: "Add partner" is the
onboarding form (``partner_onboard``: schema cloned from the template, domain,
audit row), and a status change on a partner's page goes through
``partner_change_status`` (allowed moves only, audited with who and why). A
rule the service refuses comes back as a message next to the field it names.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from loyalty_kernel.money import CURRENCY_CHOICES
from tenants.partners.errors import PartnerError
from tenants.partners.models import (
    STATUS_TRANSITIONS,
    Domain,
    Partner,
    PartnerStatus,
    PartnerStatusChange,
)
from tenants.partners.services import partner_change_status, partner_onboard


class PartnerOnboardForm(forms.Form):
    """What onboarding asks for. The form only requires the fields; every rule
    (slug format, currency, time zone, free slug and host) is the service's."""

    name = forms.CharField(max_length=200, help_text="As members will see it.")
    slug = forms.CharField(
        max_length=42,
        help_text="3 to 42 lowercase letters, digits or hyphens, starting with a letter. "
        "It names the partner's schema and host and cannot be changed later.",
    )
    default_currency = forms.ChoiceField(
        choices=[("", "Choose a currency"), *CURRENCY_CHOICES],
        help_text="The currency of the partner's receipts and settlement statements.",
    )
    time_zone = forms.CharField(
        initial="UTC", max_length=64, help_text="An IANA time zone, for example Europe/Madrid."
    )
    contact_name = forms.CharField(max_length=200, required=False)
    contact_email = forms.CharField(max_length=254, required=False, label="Contact e-mail")
    domain = forms.CharField(
        max_length=253,
        required=False,
        label="Host name",
        help_text="Leave empty for SLUG.<base domain>.",
    )
    activate = forms.BooleanField(
        required=False,
        label="Activate now",
        help_text="Otherwise the partner stays in onboarding until you activate it.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["domain"].help_text = f"Leave empty for SLUG.{settings.LOYALTY_BASE_DOMAIN}."

    def add_service_error(self, error: PartnerError) -> None:
        field = error.field if error.field in self.fields else None
        self.add_error(field, error.message)


class PartnerChangeForm(forms.ModelForm):
    """A partner's page, plus a move along the lifecycle with its reason."""

    new_status = forms.ChoiceField(
        required=False,
        label="Change status to",
        help_text="Only the moves allowed from the current status are offered.",
    )
    status_reason = forms.CharField(
        required=False,
        max_length=500,
        label="Reason for the change",
        help_text="Kept in the partner's status history.",
    )

    class Meta:
        model = Partner
        fields = (
            "name", "default_currency", "time_zone", "contact_name", "contact_email",
            "stripe_account_id", "stripe_customer_id",
        )  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        current = self.instance.status
        moves = sorted(STATUS_TRANSITIONS.get(current, frozenset()))
        new_status = cast(forms.ChoiceField, self.fields["new_status"])
        new_status.choices = [
            ("", f"Keep {PartnerStatus(current).label.lower()}"),
            *[(status, PartnerStatus(status).label) for status in moves],
        ]
        if not moves:
            new_status.help_text = f"{PartnerStatus(current).label} is final."

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("new_status") and not cleaned.get("status_reason", "").strip():
            self.add_error("status_reason", "Enter why the partner's status changes.")
        return cleaned


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


class StatusChangeInline(admin.TabularInline):
    model = PartnerStatusChange
    extra = 0
    can_delete = False
    readonly_fields = ("from_status", "to_status", "reason", "acting_user", "changed_at")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    form = PartnerChangeForm
    list_display = ("name", "slug", "status", "default_currency", "created_at")
    list_filter = ("status", "default_currency")
    search_fields = ("name", "slug", "contact_email")
    # The slug named the schema and the host at onboarding: it no longer changes.
    readonly_fields = ("slug", "schema_name", "status", "created_at", "status_changed_at")
    fieldsets = (
        (None, {"fields": ("name", "slug", "schema_name", "default_currency", "time_zone")}),
        ("Status", {"fields": ("status", "status_changed_at", "new_status", "status_reason")}),
        ("Contact", {"fields": ("contact_name", "contact_email")}),
        ("Stripe", {"fields": ("stripe_account_id", "stripe_customer_id", "created_at")}),
    )
    inlines = (DomainInline, StatusChangeInline)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Partners are offboarded, never deleted: the ledger keeps their history.
        return False

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Onboard a partner through the registry's service."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = PartnerOnboardForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                partner = partner_onboard(
                    name=data["name"],
                    slug=data["slug"],
                    default_currency=data["default_currency"],
                    time_zone=data["time_zone"].strip() or "UTC",
                    contact_name=data["contact_name"],
                    contact_email=data["contact_email"].strip(),
                    domain=data["domain"].strip() or None,
                    activate=data["activate"],
                    acting_user=request.user,
                )
            except PartnerError as error:
                form.add_service_error(error)
            else:
                self.log_addition(request, partner, [{"added": {}}])
                port = request.get_port()
                address = partner.get_primary_domain().domain + (
                    "" if port in {"80", "443"} else f":{port}"
                )
                self.message_user(
                    request,
                    f"{partner.name} is onboarded ({partner.get_status_display().lower()}), "
                    f"at {request.scheme}://{address}/.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:partners_partner_change", args=[partner.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": "Add partner",
            "opts": self.opts,
            "form": form,
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/partners/partner/onboard.html", context)

    def save_model(self, request: HttpRequest, obj: Partner, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        new_status = form.cleaned_data.get("new_status")
        if not new_status:
            return
        try:
            partner_change_status(
                partner=obj,
                to_status=new_status,
                reason=form.cleaned_data["status_reason"].strip(),
                acting_user=request.user,
            )
        except PartnerError as error:
            # Someone else moved the partner meanwhile: the other edits stand.
            self.message_user(request, f"Status not changed: {error.message}", messages.ERROR)


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):
    list_display = ("domain", "tenant", "is_primary")
    search_fields = ("domain",)
