"""The ledger's accounts as the write path needs them: partner issuance and
redemption accounts and the coalition's holds, breakage, fees and goodwill accounts,
opened on first use (idempotent) and remembered per process; and the partner
status check every partner-facing operation makes."""

from __future__ import annotations

from coalition.ledger.errors import PartnerNotActive, UnknownPartner
from coalition.ledger.models import AccountKind
from loyalty_kernel import driver_sql
from tenants.partners.models import PartnerStatus

_known_partner_accounts: set[int] = set()
_known_coalition_accounts: set[str] = set()


def partner_accounts_ensure(partner_id: int) -> None:
    """Open the partner's issuance and redemption accounts if missing (idempotent)."""
    if partner_id in _known_partner_accounts:
        return
    # Only for a partner that exists: an account of an unknown partner would fail
    # its (deferred) foreign key at commit instead of reporting UnknownPartner.
    driver_sql.execute(
        """
        INSERT INTO public.ledger_account (kind, partner_id, name, balance, created_at)
        SELECT k.kind, p.id, '', 0, now()
          FROM public.partners_partner p, unnest(ARRAY['issuance', 'redemption']) AS k(kind)
         WHERE p.id = %s
        ON CONFLICT (kind, partner_id) WHERE partner_id IS NOT NULL DO NOTHING
        """,
        [partner_id],
    )
    _known_partner_accounts.add(partner_id)


def coalition_accounts_ensure() -> None:
    kinds = [AccountKind.HOLDS, AccountKind.BREAKAGE, AccountKind.FEES, AccountKind.GOODWILL]
    if all(kind in _known_coalition_accounts for kind in kinds):
        return
    driver_sql.execute(
        """
        INSERT INTO public.ledger_account (kind, name, balance, created_at)
        SELECT kind, kind, 0, now() FROM unnest(%s::text[]) AS kind
        ON CONFLICT (kind) WHERE kind IN ('holds', 'breakage', 'fees', 'goodwill') DO NOTHING
        """,
        [[str(kind) for kind in kinds]],
    )
    _known_coalition_accounts.update(kinds)


def forget_known_accounts() -> None:
    """Forget which accounts exist (after a rollback that removed some, e.g. in tests)."""
    _known_partner_accounts.clear()
    _known_coalition_accounts.clear()


def partner_account_id(partner_id: int, kind: str, *, retried: bool = False) -> int:
    partner_accounts_ensure(partner_id)
    row = driver_sql.fetchone(
        "SELECT id FROM public.ledger_account WHERE kind = %s AND partner_id = %s",
        [kind, partner_id],
    )
    if row is None:
        if retried:  # opened afresh and still missing: there is no such partner
            raise UnknownPartner(f"no partner with id {partner_id}")
        forget_known_accounts()  # cached as known, but rolled back since
        return partner_account_id(partner_id, kind, retried=True)
    return int(row[0])


def coalition_account_id(kind: str) -> int:
    coalition_accounts_ensure()
    row = driver_sql.fetchone("SELECT id FROM public.ledger_account WHERE kind = %s", [kind])
    if row is None:
        forget_known_accounts()
        return coalition_account_id(kind)
    return int(row[0])


def require_active_partner(partner_id: int) -> None:
    row = driver_sql.fetchone(
        "SELECT status FROM public.partners_partner WHERE id = %s", [partner_id]
    )
    if row is None:
        raise UnknownPartner(f"no partner with id {partner_id}")
    if row[0] != PartnerStatus.ACTIVE:
        raise PartnerNotActive(f"partner {partner_id} is {row[0]}, not active")
