"""The fee schedule: each payer's charge per CPT code, set by an admin, with one row
for any payer (`*`) as the fallback; a line of a payer with neither has no charge."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import select

from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.billing.models import ANY_PAYER, Cpt, FeeScheduleEntry
from clinic.errors import Invalid, NotFound
from clinic.extensions import db

TMS_CODES = tuple(Cpt)
MAX_FEE = Decimal("99999.99")


def list_fees() -> Sequence[FeeScheduleEntry]:
    return db.session.scalars(
        select(FeeScheduleEntry).order_by(FeeScheduleEntry.payer, FeeScheduleEntry.cpt)
    ).all()


def set_fee(payer: str, cpt: str, amount: Decimal, *, actor_id: int | None) -> FeeScheduleEntry:
    """Create or change the fee of (payer, cpt)."""
    payer = payer.strip()
    problems: dict[str, list[str]] = {}
    if not payer:
        problems["payer"] = ["Name the payer, or * for any payer."]
    if cpt not in TMS_CODES:
        problems["cpt"] = [f"Use one of: {', '.join(TMS_CODES)}."]
    if not Decimal(0) <= amount <= MAX_FEE or amount != amount.quantize(Decimal("0.01")):
        problems["amount"] = ["A fee is 0 to 99999.99, in cents at most."]
    if problems:
        raise Invalid("The fee is not valid.", fields=problems)
    entry = db.session.scalar(
        select(FeeScheduleEntry).where(FeeScheduleEntry.payer == payer, FeeScheduleEntry.cpt == cpt)
    )
    if entry is None:
        entry = FeeScheduleEntry(payer=payer, cpt=cpt, amount=amount)
        db.session.add(entry)
    else:
        entry.amount = amount
    db.session.flush()
    record(
        actor_id,
        AuditAction.UPDATE,
        "fee_schedule",
        entry.id,
        detail={"payer": payer, "cpt": cpt, "amount": str(amount)},
    )
    return entry


def delete_fee(fee_id: int, *, actor_id: int | None) -> None:
    entry = db.session.get(FeeScheduleEntry, fee_id)
    if entry is None:
        raise NotFound(f"No fee {fee_id}.")
    record(actor_id, AuditAction.DELETE, "fee_schedule", entry.id, detail={"payer": entry.payer})
    db.session.delete(entry)
    db.session.flush()


def fee_table() -> dict[tuple[str, str], Decimal]:
    """(payer, cpt) -> amount, read once for a whole run of lines."""
    return {(entry.payer, entry.cpt): entry.amount for entry in list_fees()}


def charge_for(
    table: dict[tuple[str, str], Decimal], payer: str | None, cpt: str, units: int
) -> Decimal | None:
    amount = table.get((payer or ANY_PAYER, cpt), table.get((ANY_PAYER, cpt)))
    return None if amount is None else amount * units
