"""Proof that the ledger is intact: `loyalty verify-ledger`.

Recomputes, from the entries alone, every transaction's sum, the grand total,
every stored wallet balance and snapshot, every lot's remaining points and each
wallet against its lots, then walks the hash chain. The first problem found
names the transaction (or account) to look at.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection

from coalition.ledger.chain import (
    GENESIS,
    HEADER_COLUMNS,
    canonical,
    entries_by_transaction,
    link_hash,
)


@dataclass
class VerificationReport:
    problems: list[str] = field(default_factory=list)
    first_broken_transaction: int | None = None
    transactions: int = 0
    sealed: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, problem: str, transaction_id: int | None = None) -> None:
        self.problems.append(problem)
        if transaction_id is not None and self.first_broken_transaction is None:
            self.first_broken_transaction = transaction_id


def _check_sums(cursor: object, report: VerificationReport) -> None:
    cursor.execute(  # type: ignore[attr-defined]
        """
        SELECT transaction_id, sum(amount) FROM public.ledger_entry
         GROUP BY transaction_id HAVING sum(amount) <> 0 ORDER BY transaction_id LIMIT 20
        """
    )
    for tx_id, total in cursor.fetchall():  # type: ignore[attr-defined]
        report.add(f"transaction {tx_id}: entries sum to {total}, not 0", tx_id)
    cursor.execute("SELECT coalesce(sum(amount), 0), count(*) FROM public.ledger_entry")  # type: ignore[attr-defined]
    total, _ = cursor.fetchone()  # type: ignore[attr-defined]
    if total != 0:
        report.add(f"all entries together sum to {total}, not 0")


def _check_balances(cursor: object, report: VerificationReport) -> None:
    cursor.execute(  # type: ignore[attr-defined]
        """
        SELECT a.id, a.balance, coalesce(e.total, 0), e.last_tx
          FROM public.ledger_account a
          LEFT JOIN (SELECT account_id, sum(amount) AS total, max(transaction_id) AS last_tx
                       FROM public.ledger_entry GROUP BY account_id) e ON e.account_id = a.id
         WHERE a.kind = 'wallet' AND a.balance <> coalesce(e.total, 0)
         ORDER BY a.id LIMIT 20
        """
    )
    for account, stored, computed, last_tx in cursor.fetchall():  # type: ignore[attr-defined]
        report.add(
            f"wallet account {account}: stored balance {stored}, entries sum to {computed}",
            last_tx,
        )
    cursor.execute(  # type: ignore[attr-defined]
        """
        SELECT s.account_id, s.as_of_transaction_id, s.balance,
               (SELECT coalesce(sum(amount), 0) FROM public.ledger_entry e
                 WHERE e.account_id = s.account_id AND e.transaction_id <= s.as_of_transaction_id)
          FROM public.ledger_accountsnapshot s
        """
    )
    for account, as_of, stored, computed in cursor.fetchall():  # type: ignore[attr-defined]
        if stored != computed:
            report.add(
                f"account {account}: snapshot at {as_of} says {stored}, entries sum to {computed}"
            )


def _check_lots(cursor: object, report: VerificationReport) -> None:
    cursor.execute(  # type: ignore[attr-defined]
        """
        SELECT l.id, l.transaction_id, l.remaining, l.points + coalesce(sum(m.points), 0)
          FROM public.ledger_lot l LEFT JOIN public.ledger_lotmovement m ON m.lot_id = l.id
         GROUP BY l.id HAVING l.remaining <> l.points + coalesce(sum(m.points), 0)
         ORDER BY l.id LIMIT 20
        """
    )
    for lot, tx_id, remaining, computed in cursor.fetchall():  # type: ignore[attr-defined]
        report.add(f"lot {lot}: remaining {remaining}, movements say {computed}", tx_id)
    cursor.execute(  # type: ignore[attr-defined]
        """
        SELECT a.member_id, a.balance, coalesce(l.total, 0)
          FROM public.ledger_account a
          LEFT JOIN (SELECT member_id, sum(remaining) AS total FROM public.ledger_lot
                      GROUP BY member_id) l ON l.member_id = a.member_id
         WHERE a.kind = 'wallet' AND a.balance <> coalesce(l.total, 0)
         ORDER BY a.member_id LIMIT 20
        """
    )
    for member, stored, in_lots in cursor.fetchall():  # type: ignore[attr-defined]
        report.add(f"member {member}: wallet {stored}, lots hold {in_lots}")


def _check_chain(cursor: object, report: VerificationReport, batch: int = 5000) -> None:
    prev_hash, position = GENESIS, 0
    while True:
        cursor.execute(  # type: ignore[attr-defined]
            f"""
            SELECT c.position, c.prev_hash, c.hash, {HEADER_COLUMNS}
              FROM public.ledger_chainlink c
              JOIN public.ledger_transaction t ON t.id = c.transaction_id
             WHERE c.position > %s ORDER BY c.position LIMIT %s
            """,  # noqa: S608 - constant column list
            [position, batch],
        )
        rows = cursor.fetchall()  # type: ignore[attr-defined]
        if not rows:
            return
        entries = entries_by_transaction(cursor, [row[3] for row in rows])
        for row in rows:
            link_position, stored_prev, stored_hash, header = row[0], row[1], row[2], row[3:]
            report.sealed += 1
            expected_position = position + 1
            if link_position != expected_position or stored_prev != prev_hash:
                report.add(
                    f"hash chain broken before transaction {header[0]} (position {link_position})",
                    header[0],
                )
                return
            digest = link_hash(prev_hash, canonical(header, entries.get(header[0], [])))
            if digest != stored_hash:
                report.add(
                    f"transaction {header[0]} does not match its sealed hash "
                    f"(position {link_position}): altered after sealing",
                    header[0],
                )
                return
            prev_hash, position = stored_hash, link_position


def verify() -> VerificationReport:
    report = VerificationReport()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM public.ledger_transaction")
        report.transactions = int(cursor.fetchone()[0])
        _check_sums(cursor, report)
        _check_balances(cursor, report)
        _check_lots(cursor, report)
        _check_chain(cursor, report)
    return report
