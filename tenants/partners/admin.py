"""Operator admin for partners and their domains (public site only)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from tenants.partners.models import Domain, Partner, PartnerStatusChange


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
    list_display = ("name", "slug", "status", "default_currency", "created_at")
    list_filter = ("status", "default_currency")
    search_fields = ("name", "slug", "contact_email")
    readonly_fields = ("schema_name", "status", "created_at", "status_changed_at")
    inlines = (DomainInline, StatusChangeInline)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Partners are offboarded, never deleted: the ledger keeps their history.
        return False


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):
    list_display = ("domain", "tenant", "is_primary")
    search_fields = ("domain",)
