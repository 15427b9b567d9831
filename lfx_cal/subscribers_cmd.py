"""``lfx-cal subscribers list|export|remove``: the operator's view of self-service subscribers.

The rows are :mod:`scheduler.subscribers`' table in ``[service] database``.
``remove`` deletes (the row and its ledger rows), it does not flag; a running
service stops sending to a removed subscriber at its next reload (at once in
the process that served the unsubscribe, at the next sign-up change elsewhere).
"""

from __future__ import annotations

import json

from feeds.durations import format_duration
from lfx_cal.errors import CliError
from lfx_cal.operate import config_from
from lfx_cal.reading import say
from scheduler.subscribers import Subscriber, Subscribers


def _open(config_path: str) -> Subscribers:
    from sqlalchemy.exc import SQLAlchemyError

    config = config_from(config_path)
    try:
        return Subscribers(config.service.database)
    except SQLAlchemyError as error:
        raise CliError(
            f"{config_path}: service.database: cannot open ({type(error).__name__})"
            " (check the URL and that the server runs)"
        ) from None


def _listing(config_path: str) -> list[Subscriber]:
    rows = _open(config_path)
    try:
        return rows.listing()
    finally:
        rows.close()


def _record(row: Subscriber) -> dict[str, object]:
    prefs = row.prefs
    return {
        "id": row.id,
        "channel": str(row.channel),
        "address": row.address,
        "state": str(row.state),
        "role": prefs.role,
        "leads": [int(lead.total_seconds()) for lead in prefs.leads],
        "zone": prefs.zone,
        "term": prefs.term,
        "created_at": row.created_at,
        "confirmed_at": row.confirmed_at,
    }


def list_rows(config_path: str) -> int:
    """Print one line per subscriber."""
    found = _listing(config_path)
    for row in found:
        leads = ",".join(format_duration(lead) for lead in row.prefs.leads)  # as the form says
        say(
            f"{row.id}\t{row.channel}\t{row.state}\t{row.address}\t{row.prefs.role or 'all'}"
            f"\t{leads}\t{row.prefs.zone}\t{row.prefs.term or 'all terms'}"
        )
    say(f"{len(found)} subscriber(s)")
    return 0


def export_rows(config_path: str) -> int:
    """Print every stored field of every subscriber as JSON lines."""
    for row in _listing(config_path):
        print(json.dumps(_record(row), ensure_ascii=False, sort_keys=True))
    return 0


def remove_address(config_path: str, address: str) -> int:
    """Delete every row for *address* (and its ledger rows); exit 1 when there was none."""
    rows = _open(config_path)
    try:
        removed = rows.remove(address)
    finally:
        rows.close()
    say(f"removed {removed} subscriber(s)")
    return 0 if removed else 1
