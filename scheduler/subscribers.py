"""Self-service subscribers: people who asked for reminders themselves (e-mail or Slack DM).

Configured subscriptions are lines an operator writes in the TOML file; the
rows here are written by the people themselves, through the page's sign-up form
(e-mail, double opt-in) or Slack's ``/deadlines`` command. Each confirmed row
becomes an ordinary :class:`~scheduler.config.Subscription` named
``subscriber-<id>`` (:meth:`Subscribers.subscriptions`), so planning, fan-out
and the delivery ledger treat it like any other; it only adds its own zone (for
the times written in messages), its own term filter and, for e-mail, its own
unsubscribe and manage links.

Decisions:

* The table lives in the ledger's database, declared on the same SQLAlchemy
  ``MetaData``; this module opens its own engine on that URL and never touches
  another module's connections.
* Links carry signed tokens (:class:`Signer`): ``purpose|id|nonce|expiry``
  signed with HMAC-SHA256 under a key from the environment. A confirmation
  token holds the row's one-time ``confirm_nonce``, which confirming clears, so
  a link works once and only until it expires. A manage token holds the
  ``manage_nonce``, which lives as long as the row: removing the row kills
  every link at once.
* Unsubscribing deletes the row and its ledger rows (pending ones included),
  so nothing more is sent and nothing about the address is kept. Unconfirmed
  rows are deleted once their confirmation link expires.
* Per-address limits are counted in the row (so they hold across processes);
  sign-up for an address that is already confirmed never changes its choices
  (the mail it triggers holds the manage link instead).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Index,
    Integer,
    Table,
    Text,
    UniqueConstraint,
    and_,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from feeds import filters
from feeds.categories import ROLES
from notifiers.message import Unsubscribe
from scheduler.config import Subscription
from scheduler.errors import SignupsFull as Full
from scheduler.errors import TokenError
from scheduler.ledger_base import Status
from scheduler.schema import deliveries, metadata, open_engine, parse_stamp, stamp

__all__ = [
    "Channel",
    "Full",
    "Mail",
    "MailKind",
    "Prefs",
    "Signer",
    "State",
    "Subscriber",
    "Subscribers",
    "TokenError",
    "subscription_name",
]

PREFIX = "subscriber-"
"""Ledger subscription names of self-service subscribers: ``subscriber-<id>``."""
MAIL_WINDOW = dt.timedelta(days=1)
"""The window of the per-address limit on confirmation mails."""
MIN_SECRET = 32
"""Shortest signing key accepted, in characters."""


class Channel(StrEnum):
    """How a subscriber is reached (the values are the notifier names)."""

    EMAIL = "email"
    SLACK = "slack"


class State(StrEnum):
    """Where a subscriber row stands."""

    PENDING = "pending"
    """Signed up, the confirmation link not yet used."""
    CONFIRMED = "confirmed"
    """Receives reminders."""


class Purpose(StrEnum):
    """What a signed token may be used for (part of what is signed)."""

    CONFIRM = "confirm"
    MANAGE = "manage"


class MailKind(StrEnum):
    """Which mail a sign-up request calls for."""

    CONFIRM = "confirm"
    """A new or still unconfirmed address: the confirmation link."""
    KNOWN = "known"
    """An address already confirmed: its manage link (its choices are left alone)."""


subscribers = Table(
    "subscribers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", Text, nullable=False),
    Column("address", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("role", Text),
    Column("leads", Text, nullable=False),
    Column("zone", Text, nullable=False),
    Column("term", Text),
    Column("confirm_nonce", Text),
    Column("manage_nonce", Text, nullable=False),
    Column("mails", Integer, nullable=False, default=0),
    Column("mail_window", Text),
    Column("created_at", Text, nullable=False),
    Column("confirmed_at", Text),
    Column("updated_at", Text, nullable=False),
    UniqueConstraint("channel", "address", name="uq_subscribers_address"),
    Index("ix_subscribers_state_created", "state", "created_at"),
)
"""One row per self-service subscriber (see the module docstring for what is kept)."""
_S = subscribers.c


@dataclass(frozen=True)
class Prefs:
    """What a subscriber chose: a role (None: everything), lead times, zone and term."""

    role: str | None
    leads: tuple[dt.timedelta, ...]
    zone: str
    term: str | None = None


@dataclass(frozen=True)
class Subscriber:
    """One row of :data:`subscribers`."""

    id: int
    channel: Channel
    address: str
    state: State
    prefs: Prefs
    created_at: str
    confirmed_at: str | None
    manage_nonce: str

    @property
    def name(self) -> str:
        """The ledger's subscription name for this subscriber."""
        return subscription_name(self.id)


@dataclass(frozen=True)
class Mail:
    """A mail a sign-up request calls for: which one, to whom, with the nonce its link signs."""

    kind: MailKind
    subscriber: int
    address: str
    nonce: str


def subscription_name(ident: int) -> str:
    """``subscriber-<id>``: how the ledger names a self-service subscriber's deliveries."""
    return f"{PREFIX}{ident}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Signer:
    """Makes and checks the tokens in confirm and manage links (HMAC-SHA256, stdlib only).

    A token is ``<id>.<nonce>.<expiry>.<mac>``: *expiry* in Unix seconds (0: none)
    and *mac* the first 128 bits of HMAC-SHA256 over ``purpose|id|nonce|expiry``.
    The purpose is signed, so a manage token cannot confirm and the other way round.
    """

    def __init__(self, secret: str) -> None:
        if len(secret) < MIN_SECRET:
            raise ValueError(f"the signing key must have at least {MIN_SECRET} characters")
        self._key = hashlib.sha256(b"lfx-cal subscribers\0" + secret.encode()).digest()

    def _mac(self, purpose: Purpose, ident: int, nonce: str, expiry: int) -> str:
        text = f"{purpose}|{ident}|{nonce}|{expiry}".encode()
        return _b64(hmac.digest(self._key, text, "sha256")[:16])

    def make(
        self, purpose: Purpose, ident: int, nonce: str, expires: dt.datetime | None = None
    ) -> str:
        """A token for row *ident* holding *nonce*, valid until *expires* (None: no expiry)."""
        expiry = 0 if expires is None else int(expires.timestamp())
        return f"{ident}.{nonce}.{expiry}.{self._mac(purpose, ident, nonce, expiry)}"

    def read(self, purpose: Purpose, token: str, now: dt.datetime) -> tuple[int, str]:
        """``(id, nonce)`` of a valid *token*; raises :class:`TokenError` saying why not."""
        parts = token.split(".")
        if len(parts) != 4 or len(token) > 200 or not parts[0].isdigit() or not parts[2].isdigit():
            raise TokenError("malformed")
        ident, nonce, expiry, mac = int(parts[0]), parts[1], int(parts[2]), parts[3]
        if not hmac.compare_digest(mac, self._mac(purpose, ident, nonce, expiry)):
            raise TokenError("bad signature")
        if expiry and now.timestamp() > expiry:
            raise TokenError("expired")
        return ident, nonce


def _leads_text(leads: Sequence[dt.timedelta]) -> str:
    return ",".join(str(int(lead.total_seconds())) for lead in leads)


@functools.lru_cache(maxsize=256)
def _leads_of(text: str) -> tuple[dt.timedelta, ...]:
    return tuple(dt.timedelta(seconds=int(part)) for part in text.split(",") if part)


def _subscriber(row: Any) -> Subscriber:
    prefs = Prefs(row.role, _leads_of(row.leads), row.zone, row.term)
    return Subscriber(
        row.id,
        Channel(row.channel),
        row.address,
        State(row.state),
        prefs,
        row.created_at,
        row.confirmed_at,
        row.manage_nonce,
    )


def _nonce() -> str:
    return secrets.token_urlsafe(12)


def normalize(address: str) -> str:
    """The stored form of an e-mail address: trimmed, lower case (one row per mailbox)."""
    return address.strip().lower()


class Subscribers:
    """The ``subscribers`` table of a database (SQLite or PostgreSQL); thread-safe.

    Every method is one short transaction on this object's own engine.
    """

    def __init__(self, url: str) -> None:
        self.url, self._engine = open_engine(url)
        metadata.create_all(self._engine, tables=[subscribers, deliveries], checkfirst=True)

    def close(self) -> None:
        """Close the pooled connections."""
        self._engine.dispose()

    # -- e-mail sign-up ---------------------------------------------------------------
    def request(
        self,
        address: str,
        prefs: Prefs,
        now: dt.datetime,
        *,
        ttl: dt.timedelta,
        max_pending: int,
        per_address: int,
    ) -> tuple[Mail | None, dt.datetime]:
        """Record a sign-up for *address*; return the mail it calls for and the link's expiry.

        No mail (None) when the address had *per_address* mails in the last day.
        Raises :class:`Full` when *max_pending* unconfirmed sign-ups exist, whoever
        asks. Expired unconfirmed rows go first.
        """
        try:
            return self._request(normalize(address), prefs, now, ttl, max_pending, per_address)
        except IntegrityError:  # the same new address twice at once: the other request wrote it
            return None, now + ttl

    def _request(
        self,
        address: str,
        prefs: Prefs,
        now: dt.datetime,
        ttl: dt.timedelta,
        max_pending: int,
        per_address: int,
    ) -> tuple[Mail | None, dt.datetime]:
        at, expires = stamp(now), now + ttl
        with self._engine.begin() as conn:
            self._purge(conn, now, ttl)
            # Full refuses everyone alike: answering known addresses would tell them apart.
            pending = conn.execute(
                select(func.count()).where(_S.state == State.PENDING)
            ).scalar_one()
            if pending >= max_pending:
                raise Full
            row = conn.execute(
                select(subscribers).where(_S.channel == Channel.EMAIL, _S.address == address)
            ).first()
            if row is None:
                nonce = _nonce()
                ident = conn.execute(
                    insert(subscribers)
                    .values(
                        channel=Channel.EMAIL,
                        address=address,
                        state=State.PENDING,
                        role=prefs.role,
                        leads=_leads_text(prefs.leads),
                        zone=prefs.zone,
                        term=prefs.term,
                        confirm_nonce=nonce,
                        manage_nonce=_nonce(),
                        mails=1,
                        mail_window=at,
                        created_at=at,
                        updated_at=at,
                    )
                    .returning(_S.id)
                ).scalar_one()
                return Mail(MailKind.CONFIRM, ident, address, nonce), expires
            mails, window = row.mails, row.mail_window
            if window is None or parse_stamp(window) <= now - MAIL_WINDOW:
                mails, window = 0, at
            if mails >= per_address:
                return None, expires
            values: dict[str, Any] = {"mails": mails + 1, "mail_window": window, "updated_at": at}
            if row.state == State.CONFIRMED:
                conn.execute(update(subscribers).where(_S.id == row.id).values(**values))
                return Mail(MailKind.KNOWN, row.id, address, row.manage_nonce), expires
            nonce = _nonce()  # a new link; the earlier one stops working
            values |= {
                "role": prefs.role,
                "leads": _leads_text(prefs.leads),
                "zone": prefs.zone,
                "term": prefs.term,
                "confirm_nonce": nonce,
                "created_at": at,  # the new link's life starts now
            }
            conn.execute(update(subscribers).where(_S.id == row.id).values(**values))
            return Mail(MailKind.CONFIRM, row.id, address, nonce), expires

    @staticmethod
    def _purge(conn: Any, now: dt.datetime, ttl: dt.timedelta) -> int:
        old = stamp(now - ttl)
        result = conn.execute(
            delete(subscribers).where(_S.state == State.PENDING, _S.created_at < old)
        )
        return int(result.rowcount)

    def purge(self, now: dt.datetime, ttl: dt.timedelta) -> int:
        """Delete unconfirmed sign-ups older than *ttl*; return how many."""
        with self._engine.begin() as conn:
            return self._purge(conn, now, ttl)

    def pending(self, ident: int, nonce: str) -> Subscriber | None:
        """The unconfirmed row *ident* whose confirmation nonce is *nonce*, else None."""
        query = select(subscribers).where(
            _S.id == ident, _S.state == State.PENDING, _S.confirm_nonce == nonce
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else _subscriber(row)

    def confirm(self, ident: int, nonce: str, now: dt.datetime) -> Subscriber | None:
        """Confirm row *ident* if *nonce* is its current confirmation nonce (once only)."""
        at = stamp(now)
        with self._engine.begin() as conn:
            result = conn.execute(
                update(subscribers)
                .where(_S.id == ident, _S.state == State.PENDING, _S.confirm_nonce == nonce)
                .values(state=State.CONFIRMED, confirm_nonce=None, confirmed_at=at, updated_at=at)
            )
            if result.rowcount != 1:
                return None
            row = conn.execute(select(subscribers).where(_S.id == ident)).one()
        return _subscriber(row)

    # -- manage -----------------------------------------------------------------------
    def managed(self, ident: int, nonce: str) -> Subscriber | None:
        """The confirmed row *ident* whose manage nonce is *nonce*, else None."""
        query = select(subscribers).where(
            _S.id == ident, _S.state == State.CONFIRMED, _S.manage_nonce == nonce
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else _subscriber(row)

    def change(self, ident: int, nonce: str, prefs: Prefs, now: dt.datetime) -> bool:
        """Replace the choices of confirmed row *ident* (manage nonce *nonce*); True if done.

        Pending ledger rows for lead times no longer chosen are cancelled.
        """
        with self._engine.begin() as conn:
            result = conn.execute(
                update(subscribers)
                .where(_S.id == ident, _S.state == State.CONFIRMED, _S.manage_nonce == nonce)
                .values(
                    role=prefs.role,
                    leads=_leads_text(prefs.leads),
                    zone=prefs.zone,
                    term=prefs.term,
                    updated_at=stamp(now),
                )
            )
            if result.rowcount != 1:
                return False
            self._drop_pending(conn, ident)  # planned for the old choices
        return True

    @staticmethod
    def _drop_pending(conn: Any, ident: int) -> None:
        conn.execute(
            delete(deliveries).where(
                deliveries.c.subscription == subscription_name(ident),
                deliveries.c.status == Status.PENDING,
            )
        )

    def unsubscribe(self, ident: int, nonce: str) -> bool:
        """Delete row *ident* (manage nonce *nonce*) and its ledger rows; True if it existed."""
        with self._engine.begin() as conn:
            result = conn.execute(
                delete(subscribers).where(_S.id == ident, _S.manage_nonce == nonce)
            )
            if result.rowcount != 1:
                return False
            self._forget(conn, ident)
        return True

    @staticmethod
    def _forget(conn: Any, ident: int) -> None:
        """Delete every ledger row of subscriber *ident*: pending ones are never sent."""
        name = subscription_name(ident)
        conn.execute(delete(deliveries).where(deliveries.c.subscription == name))

    def remove(self, address: str, channel: Channel | None = None) -> int:
        """Delete every row for *address* (any channel unless given) and their ledger rows."""
        where: ColumnElement[bool] = _S.address.in_({normalize(address), address.strip()})
        if channel is not None:
            where = and_(where, _S.channel == channel)
        with self._engine.begin() as conn:
            idents = [row.id for row in conn.execute(select(_S.id).where(where))]
            for ident in idents:
                self._forget(conn, ident)
            conn.execute(delete(subscribers).where(_S.id.in_(idents)))
        return len(idents)

    # -- Slack ------------------------------------------------------------------------
    def slack_subscribe(self, user: str, prefs: Prefs, now: dt.datetime) -> Subscriber:
        """Subscribe Slack user *user* to DMs with *prefs* (replacing earlier choices).

        No opt-in mail: Slack has already told us who clicked "Remind me".
        """
        at = stamp(now)
        values: dict[str, Any] = {
            "role": prefs.role,
            "leads": _leads_text(prefs.leads),
            "zone": prefs.zone,
            "term": prefs.term,
            "updated_at": at,
        }
        with self._engine.begin() as conn:
            where = and_(_S.channel == Channel.SLACK, _S.address == user)
            if conn.execute(update(subscribers).where(where).values(**values)).rowcount != 1:
                conn.execute(
                    insert(subscribers).values(
                        channel=Channel.SLACK,
                        address=user,
                        state=State.CONFIRMED,
                        manage_nonce=_nonce(),
                        mails=0,
                        created_at=at,
                        confirmed_at=at,
                        **values,
                    )
                )
            row = conn.execute(select(subscribers).where(where)).one()
            self._drop_pending(conn, row.id)  # planned for the earlier choices
        return _subscriber(row)

    def slack_stop(self, user: str) -> bool:
        """End Slack user *user*'s DMs (the row and its ledger rows go); True if there were any."""
        return self.remove(user, Channel.SLACK) > 0

    # -- reading ----------------------------------------------------------------------
    def listing(self, state: State | None = None) -> list[Subscriber]:
        """Every row (or those in *state*), oldest first."""
        query = select(subscribers).order_by(_S.id)
        if state is not None:
            query = query.where(_S.state == state)
        with self._engine.connect() as conn:
            return [_subscriber(row) for row in conn.execute(query)]

    def counts(self) -> dict[State, int]:
        """How many rows per state (numbers only: safe for metrics)."""
        query = select(_S.state, func.count()).group_by(_S.state)
        with self._engine.connect() as conn:
            return {State(state): int(n) for state, n in conn.execute(query)}


@dataclass(frozen=True)
class Links:
    """Where a subscriber's messages point: the public address, the signer, the mailto address."""

    base_url: str
    signer: Signer
    mailto: str

    def manage_token(self, subscriber: Subscriber) -> str:
        """The subscriber's lasting manage token (dies with the row)."""
        return self.signer.make(Purpose.MANAGE, subscriber.id, subscriber.manage_nonce)

    def unsubscribe(self, subscriber: Subscriber) -> Unsubscribe:
        """The RFC 8058 one-click URL, the mailto fallback and the manage page of *subscriber*."""
        token = self.manage_token(subscriber)
        base = self.base_url.rstrip("/")
        return Unsubscribe(
            https=f"{base}/unsubscribe?t={token}",
            mailto=f"mailto:{self.mailto}?subject=unsubscribe%20{token}",
            manage=f"{base}/manage?t={token}",
        )


def subscriptions(
    rows: Sequence[Subscriber], links: Links | None, *, openings: bool = False
) -> tuple[Subscription, ...]:
    """The confirmed *rows* as ordinary subscriptions (see the module docstring).

    E-mail rows get their unsubscribe links from *links* (None: no links, which
    only a test should want). Change alerts are on: someone reminded of a
    deadline expects to hear when it moves (or is dropped); which changes reach
    them is :func:`scheduler.plan.change_keys`'s rule.
    """
    shared: dict[object, Any] = {}
    found: list[Subscription] = []
    for row in rows:
        if row.state != State.CONFIRMED:
            continue
        prefs = row.prefs
        categories = filters.wanted((), prefs.role) or filters.EVERYTHING
        categories = shared.setdefault(categories, categories)
        unsubscribe = None
        if row.channel == Channel.EMAIL and links is not None:
            unsubscribe = links.unsubscribe(row)
        found.append(
            Subscription(
                name=row.name,
                notifier=str(row.channel),
                targets=(row.address,),
                categories=categories,
                leads=prefs.leads,
                changes=True,
                openings=openings,
                zone=prefs.zone,
                term=prefs.term,
                unsubscribe=unsubscribe,
                personal=True,
            )
        )
    return tuple(found)


ROLE_CHOICES = (None, *ROLES)
"""What a subscriber may pick: everything (None) or one role preset."""
