"""E-mail backend against a real aiosmtpd server on loopback (STARTTLS, AUTH, TLS, faults)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ssl
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
import trustme
from icalendar import Calendar

from feeds.model import Event
from notifiers import (
    ConfigError,
    EmailNotifier,
    EmailSettings,
    Kind,
    PermanentError,
    TransientError,
    build_message,
    smtp,
)
from tests._servers_smtp import (
    PASSWORD,
    USER,
    Handler,
    LoopbackController,
    start_implicit_tls,
    start_plain,
    start_starttls,
)

EVENT = Event(
    uid="lfx-2027-t2-applications@lfx-cal",
    term="lfx-2027-t2",
    title="Mentee Applications",
    start=dt.date(2027, 5, 12),
    end=dt.datetime(2027, 5, 25, 23, 59, tzinfo=dt.UTC),
    notes=("Apply on the LFX portal.",),
    source="https://github.com/cncf/mentoring/blob/main/programs/lfx-mentorship/2027/02-Jun-Aug/README.md",
)
MESSAGE = build_message(
    EVENT,
    Kind.REMINDER,
    lead=dt.timedelta(days=1),
    zone="UTC",
    feed_url="https://cal.example.org/lfx.ics",
)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_ctx(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
    return ctx


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture()
def handler() -> Handler:
    return Handler()


@pytest.fixture()
def starttls(handler: Handler, server_ctx: ssl.SSLContext) -> Iterator[LoopbackController]:
    controller = start_starttls(handler, server_ctx)
    yield controller
    controller.stop()


@pytest.fixture()
def plain(handler: Handler) -> Iterator[LoopbackController]:
    controller = start_plain(handler)
    yield controller
    controller.stop()


def notifier(port: int, **extra: object) -> EmailNotifier:
    table: dict[str, object] = {
        "host": "127.0.0.1",
        "port": port,
        "from": "LFX <lfx@example.org>",
        "timeout": 5,
    }
    table.update(extra)
    return EmailNotifier.from_config(table, {"SMTP_PW": PASSWORD})


def secure(port: int, ca_file: str, **extra: object) -> EmailNotifier:
    return notifier(
        port, security="starttls", username=USER, password_env="SMTP_PW", ca_file=ca_file, **extra
    )


def parse(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_starttls_auth_delivers_text_html_and_ics(
    starttls: LoopbackController, handler: Handler, ca_file: str
) -> None:
    receipt = secure(starttls.port, ca_file).send(MESSAGE, "Ana <ana@example.net>", key="d-1")
    [got] = handler.messages
    assert got.tls and got.authenticated
    assert got.mail_from == "lfx@example.org" and got.rcpt_tos == ["ana@example.net"]
    mail = parse(got.content)
    assert mail["Message-ID"] == receipt.id
    assert mail["To"] == "Ana <ana@example.net>"
    assert mail["Subject"] == "Mentee applications close in 1 day — Tue, May 25, 11:59 PM UTC"
    assert receipt.backend == "email" and receipt.target == "ana@example.net"
    assert receipt.detail.startswith("SMTP 250 ")
    assert mail.get_content_type() == "multipart/mixed"
    alternative = next(p for p in mail.walk() if p.get_content_type() == "multipart/alternative")
    kinds = [p.get_content_type() for p in alternative.iter_parts()]
    assert kinds == ["text/plain", "text/html"]
    text = alternative.get_body(("plain",))
    assert text is not None and "Tue, May 25, 11:59 PM UTC" in text.get_content()
    [ics] = [p for p in mail.walk() if p.get_content_type() == "text/calendar"]
    assert ics.get_filename() == "event.ics"
    calendar = Calendar.from_ical(ics.get_content())
    assert "METHOD" not in calendar
    uids = {str(c["UID"]) for c in calendar.walk("VEVENT")}
    assert EVENT.uid in uids


def test_message_id_is_stable_for_a_resend(
    starttls: LoopbackController, handler: Handler, ca_file: str
) -> None:
    backend = secure(starttls.port, ca_file)
    first = backend.send(MESSAGE, "ana@example.net", key="delivery-42")
    again = backend.send(MESSAGE, "ana@example.net", key="delivery-42")
    other = backend.send(MESSAGE, "bo@example.net", key="delivery-42")
    assert first.id == again.id != other.id
    ids = [parse(m.content)["Message-ID"] for m in handler.messages]
    assert ids == [first.id, first.id, other.id]
    assert first.id.endswith("@example.org>")


def test_untrusted_certificate_is_refused(starttls: LoopbackController, handler: Handler) -> None:
    # No ca_file: the system's CAs do not know the test CA.
    backend = notifier(starttls.port, username=USER, password_env="SMTP_PW")
    with pytest.raises(PermanentError, match=r"certificate refused.*ca_file"):
        backend.send(MESSAGE, "ana@example.net")
    assert handler.messages == []


def test_certificate_for_another_host_is_refused(
    handler: Handler, ca: trustme.CA, ca_file: str
) -> None:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("mail.example.org").configure_cert(ctx)  # trusted CA, wrong name
    controller = start_starttls(handler, ctx)
    try:
        with pytest.raises(PermanentError, match="certificate refused"):
            secure(controller.port, ca_file).send(MESSAGE, "ana@example.net")
    finally:
        controller.stop()
    assert handler.messages == []


def test_implicit_tls(handler: Handler, server_ctx: ssl.SSLContext, ca_file: str) -> None:
    controller = start_implicit_tls(handler, server_ctx)
    try:
        receipt = notifier(controller.port, security="ssl", ca_file=ca_file).send(
            MESSAGE, "ana@example.net"
        )
    finally:
        controller.stop()
    assert receipt.detail.startswith("SMTP 250")
    assert [m.tls for m in handler.messages] == [True]


def test_wrong_password_is_permanent(starttls: LoopbackController, ca_file: str) -> None:
    backend = EmailNotifier.from_config(
        {
            "host": "127.0.0.1",
            "port": starttls.port,
            "from": "lfx@example.org",
            "username": USER,
            "password_env": "SMTP_PW",
            "ca_file": ca_file,
            "timeout": 5,
        },
        {"SMTP_PW": "wrong"},
    )
    with pytest.raises(PermanentError, match="535"):
        backend.send(MESSAGE, "ana@example.net")


def test_4xx_is_transient_5xx_permanent_and_the_batch_goes_on(
    plain: LoopbackController, handler: Handler
) -> None:
    handler.rcpt_replies["busy@example.net"] = "450 4.2.1 Mailbox busy, try later"
    handler.rcpt_replies["nobody@example.net"] = "550 5.1.1 No such user"
    targets = [
        "a@example.net",
        "busy@example.net",
        "nobody@example.net",
        "not an address",
        "b@example.net",
    ]
    outcomes = notifier(plain.port, security="none").send_many(MESSAGE, targets, key="k")
    assert [o.target for o in outcomes] == targets
    assert [o.ok for o in outcomes] == [True, False, False, False, True]
    assert isinstance(outcomes[1].error, TransientError) and "450" in outcomes[1].error.detail
    assert isinstance(outcomes[2].error, PermanentError) and "550" in outcomes[2].error.detail
    assert isinstance(outcomes[3].error, PermanentError)
    assert [m.rcpt_tos for m in handler.messages] == [["a@example.net"], ["b@example.net"]]
    assert handler.connections == 1  # one connection for the whole batch


def test_data_reply_4xx_and_5xx(plain: LoopbackController, handler: Handler) -> None:
    handler.data_replies = ["451 4.3.0 Try again later", "554 5.6.0 Content rejected"]
    backend = notifier(plain.port, security="none")
    with pytest.raises(TransientError, match="451"):
        backend.send(MESSAGE, "a@example.net")
    with pytest.raises(PermanentError, match="554"):
        backend.send(MESSAGE, "a@example.net")
    assert backend.send(MESSAGE, "a@example.net").detail.startswith("SMTP 250")


def test_connection_dropped_mid_batch_reconnects(
    plain: LoopbackController, handler: Handler
) -> None:
    handler.drop_data = {3}  # the third message's body goes out, then the reply is lost
    targets = [f"r{i}@example.net" for i in range(6)]
    outcomes = notifier(plain.port, security="none").send_many(MESSAGE, targets)
    assert [o.ok for o in outcomes] == [True, True, False, True, True, True], outcomes
    error = outcomes[2].error
    assert isinstance(error, TransientError) and "may have been delivered" in str(error)
    assert handler.data_count == 6  # the unacknowledged message was not sent again
    assert sorted(m.rcpt_tos[0] for m in handler.messages) == targets[:2] + targets[3:]
    assert handler.connections == 2


def test_lost_data_replies_never_resend_within_a_batch(
    plain: LoopbackController, handler: Handler
) -> None:
    handler.drop_from = 1  # every message body goes out, every final reply is lost
    targets = [f"r{i}@example.net" for i in range(3)]
    outcomes = notifier(plain.port, security="none", reconnects=2).send_many(MESSAGE, targets)
    assert not any(o.ok for o in outcomes)
    assert all(isinstance(o.error, TransientError) for o in outcomes)
    assert handler.data_count == 3  # one copy per recipient, not reconnects + 1 each


def test_server_that_keeps_dropping_fails_the_rest_transiently(
    plain: LoopbackController, handler: Handler
) -> None:
    handler.drop_from = 3
    targets = [f"r{i}@example.net" for i in range(5)]
    outcomes = notifier(plain.port, security="none", reconnects=1).send_many(MESSAGE, targets)
    assert [o.ok for o in outcomes] == [True, True, False, False, False]
    assert all(isinstance(o.error, TransientError) for o in outcomes[2:])
    assert [o.target for o in outcomes] == targets


def test_unreachable_server_is_transient_for_everyone() -> None:
    controller = start_plain(Handler())
    port = controller.port
    controller.stop()  # nothing listens there any more
    outcomes = notifier(port, security="none").send_many(MESSAGE, ["a@x.org", "b@x.org"])
    assert [type(o.error) for o in outcomes] == [TransientError, TransientError]
    assert [o.target for o in outcomes] == ["a@x.org", "b@x.org"]


def test_header_injection_and_html_escaping(plain: LoopbackController, handler: Handler) -> None:
    event = Event(
        uid="evil@lfx-cal",
        term="lfx-2027-t2",
        title="Deadline\r\nBcc: victim@example.com\r\nX-Evil: 1",
        start=dt.datetime(2027, 6, 1, 18, 0, tzinfo=dt.UTC),
        notes=('<script>alert("x")</script> & <b>bold</b>',),
    )
    message = build_message(event, Kind.REMINDER, lead=dt.timedelta(hours=6), zone="UTC")
    notifier(plain.port, security="none").send(message, "a@example.net")
    [got] = handler.messages
    assert got.rcpt_tos == ["a@example.net"]
    head = got.content.split(b"\r\n\r\n", 1)[0]
    names = [line.split(b":")[0].lower() for line in head.split(b"\r\n") if line[:1] != b" "]
    assert b"bcc" not in names and b"x-evil" not in names
    assert len(names) == len(set(names))  # no header injected twice either
    mail = parse(got.content)
    assert " ".join(mail["Subject"].split()) == (  # a folded encoded word may add a space
        "Deadline bcc: victim@example.com X-Evil: 1 due in 6 hours — Tue, Jun 1, 6:00 PM UTC"
    )
    html_part = mail.get_body(("html",))
    text_part = mail.get_body(("plain",))
    assert html_part is not None and text_part is not None
    html = html_part.get_content()
    assert "<script>" not in html and "<b>bold" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold" in html
    assert '<script>alert("x")</script> & <b>bold</b>' in text_part.get_content()


def test_settings_validate_and_hide_the_password(tmp_path: Path) -> None:
    settings = EmailSettings.from_dict(
        {
            "host": "smtp.example.org",
            "from": "lfx@example.org",
            "username": "u",
            "password_env": "SMTP_PW",
        },
        {"SMTP_PW": "hunter2-secret"},
    )
    assert settings.password == "hunter2-secret" and settings.port == 587
    assert "hunter2" not in repr(settings) and "hunter2" not in repr(EmailNotifier(settings))
    with pytest.raises(ConfigError, match=r"password_env.*SMTP_PW is not set"):
        EmailSettings.from_dict(
            {"host": "h", "from": "a@b.org", "username": "u", "password_env": "SMTP_PW"}, {}
        )
    with pytest.raises(ConfigError, match="security"):
        EmailSettings.from_dict(
            {
                "host": "h",
                "from": "a@b.org",
                "security": "none",
                "username": "u",
                "password_env": "P",
            },
            {"P": "x"},
        )
    with pytest.raises(ConfigError, match="starttls, ssl, none"):
        EmailSettings.from_dict({"host": "h", "from": "a@b.org", "security": "tls"}, {})
    with pytest.raises(ConfigError, match="ca_file"):
        EmailSettings.from_dict(
            {"host": "h", "from": "a@b.org", "ca_file": str(tmp_path / "missing.pem")}, {}
        )
    with pytest.raises(ConfigError, match="valid keys"):
        EmailSettings.from_dict({"host": "h", "from": "a@b.org", "password": "inline"}, {})
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(ConfigError, match="cannot load"):
        EmailNotifier.from_config({"host": "h", "from": "a@b.org", "ca_file": str(junk)}, {})
    with pytest.raises(ValueError, match="from"):
        EmailSettings.from_dict({"host": "h", "from": "not-an-address"}, {})


def test_sends_in_a_row_share_one_connection_until_close(
    starttls: LoopbackController, handler: Handler, ca: trustme.CA, tmp_path: Path
) -> None:
    pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    backend = notifier(
        starttls.port, security="starttls", ca_file=str(pem), username=USER, password_env="SMTP_PW"
    )
    for n in range(3):
        backend.send(MESSAGE, f"r{n}@example.net")
    assert handler.connections == 1  # one handshake, one AUTH, three messages
    assert all(m.tls and m.authenticated for m in handler.messages)
    backend.close()
    backend.send(MESSAGE, "r3@example.net")
    assert handler.connections == 2
    backend.close()


def test_an_idle_connection_is_not_reused_after_idle_reuse(
    plain: LoopbackController, handler: Handler, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(smtp, "IDLE_REUSE", 0.0)
    backend = notifier(plain.port, security="none")
    backend.send(MESSAGE, "a@example.net")
    backend.send(MESSAGE, "b@example.net")
    assert handler.connections == 2
    backend.close()


def test_a_connection_the_server_closed_is_replaced_without_losing_the_message(
    handler: Handler,
) -> None:
    controller = LoopbackController(handler, timeout=0.2)  # idle limit, seconds
    controller.start()
    try:
        backend = notifier(controller.port, security="none", reconnects=0)
        backend.send(MESSAGE, "a@example.net")
        time.sleep(0.6)  # the server hangs up on the idle connection
        assert backend.send(MESSAGE, "b@example.net").detail.startswith("SMTP 250")
        assert [m.rcpt_tos for m in handler.messages] == [["a@example.net"], ["b@example.net"]]
        assert handler.connections == 2
        backend.close()
    finally:
        controller.stop()


def test_max_per_connection_holds_across_sends(plain: LoopbackController, handler: Handler) -> None:
    backend = notifier(plain.port, security="none", max_per_connection=2)
    for n in range(5):
        backend.send(MESSAGE, f"r{n}@example.net")
    assert len(handler.messages) == 5
    assert handler.connections == 3
    backend.close()


def test_a_message_is_rendered_once_for_many_sends(
    plain: LoopbackController, handler: Handler, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = smtp.render_base

    def counting(message: object, sender: object) -> bytes:
        calls.append(message.event.uid)  # type: ignore[attr-defined]
        return real(message, sender)  # type: ignore[arg-type]

    monkeypatch.setattr(smtp, "render_base", counting)
    backend = notifier(plain.port, security="none")
    for n in range(3):
        backend.send(MESSAGE, f"r{n}@example.net")
    other = build_message(EVENT, Kind.REMINDER, lead=dt.timedelta(hours=1), zone="UTC")
    backend.send(other, "r0@example.net")
    assert calls == [EVENT.uid, EVENT.uid]  # once per distinct message
    subjects = [parse(m.content)["Subject"] for m in handler.messages]
    assert len(set(subjects[:3])) == 1 and subjects[3] != subjects[0]
    assert [m.rcpt_tos for m in handler.messages][:3] == [[f"r{n}@example.net"] for n in range(3)]
    backend.close()


@pytest.mark.parametrize(
    "text",
    ["user01234@example.org", " a.b+c@x-y.example.org ", "o'neil@x.org", "A_B{c}@EXAMPLE.ORG"],
)
def test_plain_address_fast_path_matches_the_email_parser(text: str) -> None:
    """A dot-atom address skips the header parser but yields the very same Address."""
    from email.headerregistry import Address

    from notifiers.mailbuild import PLAIN_SPEC, parse_address

    assert PLAIN_SPEC.fullmatch(text.strip())
    fast, parsed = parse_address(text), Address(addr_spec=text.strip())
    assert (fast, str(fast), fast.addr_spec) == (parsed, str(parsed), parsed.addr_spec)


@pytest.mark.parametrize(
    "text",
    ["a..b@x.org", ".a@x.org", "a b@x.org", "é@x.org", "a@", "a@x..org", "@x.org", "A <a@x..org>"],
)
def test_other_addresses_take_the_parser_path(text: str) -> None:
    """Anything that is not a plain dot-atom address is left to the email parser."""
    from notifiers.mailbuild import PLAIN_SPEC, parse_address

    assert PLAIN_SPEC.fullmatch(text) is None
    with pytest.raises(ValueError, match="not a"):  # the email parser's own errors become this
        parse_address(text)


def test_send_after_hands_the_body_over_only_once_ready_returns(
    plain: LoopbackController, handler: Handler
) -> None:
    """The envelope goes out at once; the message itself only after *ready* returned."""
    import threading

    backend = notifier(plain.port, security="none")
    allowed = threading.Event()
    seen: list[int] = []

    def ready() -> None:
        seen.append(len(handler.messages))  # the envelope is done, nothing accepted yet
        assert allowed.wait(5)

    sender = threading.Thread(target=backend.send_after, args=(ready, MESSAGE, "a@example.net"))
    sender.start()
    time.sleep(0.3)
    assert seen == [0] and handler.messages == []  # waiting in ready, before the body
    allowed.set()
    sender.join(5)
    assert [m.rcpt_tos for m in handler.messages] == [["a@example.net"]]
    backend.close()


@pytest.mark.parametrize("error", [RuntimeError("ledger down"), TimeoutError("no commit")])
def test_an_error_in_ready_is_the_callers_and_nothing_is_delivered(
    plain: LoopbackController, handler: Handler, error: Exception
) -> None:
    """Even an OSError from *ready* is not a dropped connection: no reconnect, no retry."""
    backend = notifier(plain.port, security="none")

    def ready() -> None:
        raise error

    with pytest.raises(type(error), match=str(error)):
        backend.send_after(ready, MESSAGE, "a@example.net")
    assert handler.messages == [] and handler.connections == 1
    backend.send(MESSAGE, "b@example.net")  # the half-used connection was not parked
    assert [m.rcpt_tos for m in handler.messages] == [["b@example.net"]]
    assert handler.connections == 2
    backend.close()
