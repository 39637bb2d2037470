"""The notification fakes themselves (support/smtp_server.py, support/fake_twilio.py): notification-service
is tested against them, so what they speak is pinned here with stdlib smtplib and requests. No Emporium
service (and no build) is needed. The local-mode SMS sink of scripts/up shares the Twilio wire protocol
and is checked here too."""

from __future__ import annotations

import contextlib
import os
import smtplib
import socket
import ssl
import subprocess
import sys
import threading
import time
from email.message import EmailMessage
from pathlib import Path

import pytest
import requests

from support.fake_twilio import FakeTwilio
from support.smtp_server import SmtpServer


def order_mail(subject: str = "Commande confirmée ✓ — n° 42", to: str = "ada@example.com") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Emporium <shop@localhost>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = "<order-42@emporium.test>"
    msg.set_content("Total: 12,50 €\n")
    msg.add_alternative("<p>Total: <b>12,50 €</b></p>\n", subtype="html")
    return msg


def send(server: SmtpServer, msg: EmailMessage | None = None, **kw) -> dict:
    with smtplib.SMTP(server.host, server.port, timeout=5) as c:
        return c.send_message(msg or order_mail(), **kw)


# --- SMTP ---------------------------------------------------------------------------------------

@pytest.fixture
def smtp():
    with SmtpServer() as s:
        yield s


def test_smtp_accepts_and_parses_utf8_multipart(smtp):
    assert smtp.url == f"smtp://127.0.0.1:{smtp.port}"
    send(smtp, to_addrs=["ada@example.com", "bob@example.com"])
    [m] = smtp.wait_for(1, timeout=5)
    assert m.mail_from == "shop@localhost"
    assert m.rcpt_tos == ["ada@example.com", "bob@example.com"]
    assert m.subject == "Commande confirmée ✓ — n° 42" == m["subject"]
    assert m["from"] == "Emporium <shop@localhost>" and m.to == "ada@example.com"
    assert m.message_id == "<order-42@emporium.test>"
    assert m.content_type == "multipart/alternative"
    assert m.text == "Total: 12,50 €\n"
    assert m.html == "<p>Total: <b>12,50 €</b></p>\n"
    assert b"=?utf-8?" in m.raw  # the subject went over the wire encoded
    assert (smtp.attempts, smtp.refused, smtp.accepted) == (1, 0, 1)
    assert m.login is None and m.tls is False
    # messages() is a copy
    smtp.messages().clear()
    assert len(smtp.messages()) == 1


def test_smtp_wait_for_times_out_with_a_helpful_message(smtp):
    with pytest.raises(AssertionError, match=r"expected at least 1 message\(s\) within 0.2s, got 0"):
        smtp.wait_for(1, timeout=0.2)


def test_smtp_refuses_n_times_then_accepts(smtp):
    smtp.refuse(451, "4.3.0 try again later", times=2)
    for _ in range(2):
        with pytest.raises(smtplib.SMTPDataError) as exc:
            send(smtp)
        assert exc.value.smtp_code == 451 and b"try again later" in exc.value.smtp_error
    send(smtp)
    assert len(smtp.wait_for(1, timeout=5)) == 1
    assert (smtp.attempts, smtp.refused, smtp.accepted) == (3, 2, 1)


@pytest.mark.parametrize("stage, error", [("MAIL", smtplib.SMTPSenderRefused),
                                          ("RCPT", smtplib.SMTPRecipientsRefused)])
def test_smtp_refuses_at_mail_and_rcpt(smtp, stage, error):
    smtp.refuse(550, "5.7.1 not today", times=1, stage=stage)
    with pytest.raises(error):
        send(smtp)
    send(smtp)
    smtp.wait_for(1, timeout=5)
    assert smtp.refused == 1


def test_smtp_refuses_forever_until_accept(smtp):
    smtp.refuse(554, "5.7.1 rejected")
    for _ in range(3):
        with pytest.raises(smtplib.SMTPDataError) as exc:
            send(smtp)
        assert exc.value.smtp_code == 554
    assert smtp.messages() == [] and smtp.refused == 3
    smtp.accept()
    send(smtp)
    assert smtp.accepted == 1


def test_smtp_delay_then_client_gives_up_records_nothing(smtp):
    smtp.delay(1.0)
    with pytest.raises((socket.timeout, smtplib.SMTPServerDisconnected, TimeoutError)):
        with smtplib.SMTP(smtp.host, smtp.port, timeout=0.3) as c:
            c.send_message(order_mail())
    time.sleep(1.1)  # past the delay: the 250 would have been sent by now
    assert smtp.attempts == 1 and smtp.messages() == []


def test_smtp_auth_ok_and_bad():
    with SmtpServer(auth=("shop@localhost", "s3cret")) as s:
        with smtplib.SMTP(s.host, s.port, timeout=5) as c:
            with pytest.raises(smtplib.SMTPSenderRefused) as exc:  # MAIL before AUTH
                c.send_message(order_mail())
            assert exc.value.smtp_code == 530
        with smtplib.SMTP(s.host, s.port, timeout=5) as c:
            with pytest.raises(smtplib.SMTPAuthenticationError) as exc:
                c.login("shop@localhost", "wrong")
            assert exc.value.smtp_code == 535
        for mechanism in ("PLAIN", "LOGIN"):
            with smtplib.SMTP(s.host, s.port, timeout=5) as c:
                c.user, c.password = "shop@localhost", "s3cret"
                c.ehlo()
                c.auth(mechanism, getattr(c, "auth_" + mechanism.lower()))
                c.send_message(order_mail())
        msgs = s.wait_for(2, timeout=5)
        assert [m.login for m in msgs] == ["shop@localhost"] * 2
        assert s.logins == ["shop@localhost"] * 2
        assert s.failed_logins and set(s.failed_logins) == {"shop@localhost"}  # smtplib tries each mechanism


def test_smtp_starttls_with_the_ca_file():
    with SmtpServer(starttls=True, require_starttls=True, auth=("u", "p")) as s:
        ctx = ssl.create_default_context(cafile=s.ca_file)
        with smtplib.SMTP("localhost", s.port, timeout=5) as c:
            c.ehlo()
            assert c.has_extn("starttls")
            with pytest.raises(smtplib.SMTPSenderRefused) as exc:
                c.send_message(order_mail())
            assert exc.value.smtp_code == 530
        with smtplib.SMTP(s.host, s.port, timeout=5) as c:
            c.starttls(context=ctx)  # verifies 127.0.0.1 against the generated CA
            c.login("u", "p")
            c.send_message(order_mail())
        [m] = s.wait_for(1, timeout=5)
        assert m.tls and m.login == "u" and m.subject.startswith("Commande")
        # Without the CA the certificate is not trusted.
        with smtplib.SMTP(s.host, s.port, timeout=5) as c:
            with pytest.raises(ssl.SSLCertVerificationError):
                c.starttls(context=ssl.create_default_context())
        ca_file = s.ca_file
    assert not os.path.exists(ca_file)  # leaving the with block removes the certificates


def test_smtp_stop_and_start_keeps_port_and_messages(smtp):
    send(smtp)
    port = smtp.port
    smtp.stop()
    with pytest.raises(OSError):
        smtplib.SMTP(smtp.host, port, timeout=2)
    smtp.start()
    assert smtp.port == port
    send(smtp)
    assert len(smtp.wait_for(2, timeout=5)) == 2


def test_smtp_fault_change_while_a_client_sends(smtp):
    """refuse()/accept() from another thread take effect on the next transaction of an open session."""
    with smtplib.SMTP(smtp.host, smtp.port, timeout=5) as c:
        c.send_message(order_mail())
        t = threading.Thread(target=smtp.refuse, kwargs={"times": 1})
        t.start()
        t.join()
        with pytest.raises(smtplib.SMTPDataError):
            c.send_message(order_mail())
        c.rset()
        c.send_message(order_mail())
    assert smtp.accepted == 2 and smtp.refused == 1


# --- Twilio -------------------------------------------------------------------------------------

@pytest.fixture
def twilio():
    with FakeTwilio() as t:
        yield t


def sms(t: FakeTwilio, to="+14155550100", body="Your order 42 is confirmed", auth=None, from_=None, **extra):
    data = {"To": to, "From": from_ or t.phone_number, "Body": body, **extra}
    return requests.post(t.messages_url, data=data, auth=auth or (t.account_sid, t.auth_token), timeout=5)


def test_twilio_201_shape(twilio):
    assert twilio.base_url == f"http://127.0.0.1:{twilio.port}"
    assert twilio.account_sid.startswith("AC") and len(twilio.account_sid) == 34
    r = sms(twilio, body="Total 12,50 € ✓")
    assert r.status_code == 201, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    m = r.json()
    assert m["sid"].startswith("SM") and len(m["sid"]) == 34 and int(m["sid"][2:], 16) >= 0
    assert m["account_sid"] == twilio.account_sid
    assert (m["to"], m["from"], m["body"]) == ("+14155550100", "+15005550006", "Total 12,50 € ✓")
    assert m["status"] == "queued" and m["direction"] == "outbound-api" and m["api_version"] == "2010-04-01"
    assert m["num_segments"] == "1"
    assert m["price"] is None and m["error_code"] is None and m["error_message"] is None
    assert m["date_created"].endswith("+0000") and len(m["date_created"].split()) == 6  # RFC 2822
    assert m["uri"] == f"/2010-04-01/Accounts/{twilio.account_sid}/Messages/{m['sid']}.json"
    assert twilio.wait_for(1, timeout=1)[0]["sid"] == m["sid"]
    req = twilio.requests("POST")[0]
    assert req["form"] == {"To": "+14155550100", "From": "+15005550006", "Body": "Total 12,50 € ✓"}
    assert req["headers"]["Authorization"].startswith("Basic ") and req["status"] == 201


def test_twilio_segments(twilio):
    assert sms(twilio, body="a" * 160).json()["num_segments"] == "1"
    assert sms(twilio, body="a" * 161).json()["num_segments"] == "2"
    assert sms(twilio, body="é" * 71 + "✓").json()["num_segments"] == "2"  # ✓ forces UCS-2


def test_twilio_bad_auth_401(twilio):
    for auth in [(twilio.account_sid, "wrong"), ("AC" + "f" * 32, twilio.auth_token)]:
        r = sms(twilio, auth=auth)
        assert r.status_code == 401
        assert r.json()["code"] == 20003 and r.json()["status"] == 401
        assert r.json()["more_info"] == "https://www.twilio.com/docs/errors/20003"
        assert r.headers["WWW-Authenticate"].startswith("Basic")
    r = requests.post(twilio.messages_url, data={"To": "+14155550100"}, timeout=5)
    assert r.status_code == 401
    assert twilio.messages() == []


def test_twilio_validation_errors(twilio):
    cases = [({"to": "0612345678"}, 400, 21211), ({"to": "+1 415 555 0100"}, 400, 21211),
             ({"to": ""}, 400, 21604), ({"body": ""}, 400, 21602), ({"body": "x" * 1601}, 400, 21617),
             ({"from_": "+14155559999"}, 400, 21606)]
    for kw, status, code in cases:
        r = sms(twilio, **kw)
        assert (r.status_code, r.json()["code"]) == (status, code), (kw, r.text)
        assert set(r.json()) == {"code", "message", "more_info", "status"}
    r = requests.post(twilio.messages_url, data={"To": "+14155550100", "Body": "x"},
                      auth=(twilio.account_sid, twilio.auth_token), timeout=5)
    assert (r.status_code, r.json()["code"]) == (400, 21603)
    # Another account's path, with this account's credentials.
    other = twilio.messages_url.replace(twilio.account_sid, "AC" + "1" * 32)
    r = requests.post(other, data={"To": "+14155550100", "From": twilio.phone_number, "Body": "x"},
                      auth=(twilio.account_sid, twilio.auth_token), timeout=5)
    assert (r.status_code, r.json()["code"]) == (404, 20404)
    assert twilio.messages() == []


def test_twilio_fail_next_then_heal(twilio):
    twilio.fail_next(2, 503)
    assert [sms(twilio).status_code for _ in range(3)] == [503, 503, 201]
    twilio.fail_next(1, 429)
    r = sms(twilio)
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    assert r.json()["code"] == 20429 and r.json()["message"] == "Too Many Requests"
    twilio.fail_next(1, 429, retry_after=7)
    assert sms(twilio).headers["Retry-After"] == "7"
    twilio.fail_always(500)
    assert [sms(twilio).json()["code"] for _ in range(2)] == [20500, 20500]
    twilio.heal()
    assert sms(twilio).status_code == 201
    assert (twilio.attempts, twilio.failed, twilio.accepted) == (8, 6, 2)


def test_twilio_drop_after_creates_but_never_answers(twilio):
    twilio.fail_next(1, "drop_after")
    with pytest.raises(requests.ConnectionError):
        sms(twilio)
    assert twilio.accepted == 1 and twilio.requests()[0]["status"] is None


def test_twilio_delay(twilio):
    twilio.delay(0.5)
    with pytest.raises(requests.Timeout):
        requests.post(twilio.messages_url, data={"To": "+14155550100", "From": twilio.phone_number, "Body": "x"},
                      auth=(twilio.account_sid, twilio.auth_token), timeout=0.2)
    twilio.heal()
    assert sms(twilio).status_code == 201


def test_twilio_list_and_get(twilio):
    sids = [sms(twilio, to=to, body=f"n{i}").json()["sid"]
            for i, to in enumerate(["+14155550100", "+14155550101", "+14155550100"])]
    auth = (twilio.account_sid, twilio.auth_token)
    r = requests.get(twilio.messages_url, auth=auth, timeout=5)
    assert r.status_code == 200
    assert [m["sid"] for m in r.json()["messages"]] == sids[::-1]  # newest first
    r = requests.get(twilio.messages_url, params={"To": "+14155550100", "PageSize": 1}, auth=auth, timeout=5)
    assert [m["sid"] for m in r.json()["messages"]] == [sids[2]] and r.json()["next_page_uri"]
    one = requests.get(f"{twilio.base_url}/2010-04-01/Accounts/{twilio.account_sid}/Messages/{sids[1]}.json",
                       auth=auth, timeout=5)
    assert one.status_code == 200 and one.json()["body"] == "n1"
    missing = requests.get(f"{twilio.base_url}/2010-04-01/Accounts/{twilio.account_sid}/Messages/SM{'0' * 32}.json",
                           auth=auth, timeout=5)
    assert (missing.status_code, missing.json()["code"]) == (404, 20404)
    assert requests.get(twilio.messages_url, timeout=5).status_code == 401


# --- scripts/sms-sink (the local-mode sink of scripts/up, same wire protocol) ------------------

SMS_SINK = Path(__file__).resolve().parents[2] / "scripts" / "sms-sink"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def sms_sink(store: Path, sid: str, token: str):
    """Runs scripts/sms-sink on a free port; stops it by PID (SIGTERM) and checks it exited 0."""
    for _ in range(5):  # the port is chosen before the sink binds it: retry if another process took it
        port = free_port()
        proc = subprocess.Popen([sys.executable, str(SMS_SINK), "--port", str(port), "--account-sid", sid,
                                 "--auth-token", token, "--store", str(store)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                        break
                except requests.ConnectionError:
                    time.sleep(0.05)
            if proc.poll() is not None:
                continue
            yield f"http://127.0.0.1:{port}"
            proc.terminate()
            assert proc.wait(timeout=10) == 0, proc.stderr.read().decode()
            return
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stderr.close()
    raise AssertionError("scripts/sms-sink did not start")


def test_sms_sink_speaks_twilio_shows_texts_and_keeps_them(tmp_path):
    sid, token = "AC" + "ab" * 16, "sink-token"
    store = tmp_path / "sms" / "messages.jsonl"
    with sms_sink(store, sid, token) as base:
        url = f"{base}/2010-04-01/Accounts/{sid}/Messages.json"
        r = requests.post(url, data={"To": "+14155550100", "From": "+15005550006", "Body": "<b>Shipped</b> ✓"},
                          auth=(sid, token), timeout=5)
        assert r.status_code == 201 and r.json()["status"] == "queued" and r.json()["sid"].startswith("SM")
        bad = requests.post(url, data={"To": "+14155550100", "Body": "x"}, auth=(sid, "nope"), timeout=5)
        assert (bad.status_code, bad.json()["code"]) == (401, 20003)
        invalid = requests.post(url, data={"To": "555", "From": "+15005550006", "Body": "x"}, auth=(sid, token),
                                timeout=5)
        assert (invalid.status_code, invalid.json()["code"]) == (400, 21211)
        page = requests.get(base + "/", timeout=5).text
        assert "&lt;b&gt;Shipped&lt;/b&gt; ✓" in page and "<b>Shipped</b>" not in page
    assert len(store.read_text(encoding="utf-8").splitlines()) == 1
    with sms_sink(store, sid, token) as base:  # a restart reads the store back
        requests.post(f"{base}/2010-04-01/Accounts/{sid}/Messages.json", auth=(sid, token), timeout=5,
                      data={"To": "+14155550101", "From": "+15005550006", "Body": "second"})
        listed = requests.get(base + "/messages.json", timeout=5).json()["messages"]
        assert [m["body"] for m in listed] == ["second", "<b>Shipped</b> ✓"]  # newest first
