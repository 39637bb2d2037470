"""Events and notification-service (issue 11, DESIGN §12, API.md notification section) with a real
nats-server (JetStream, file store), a real SMTP server (aiosmtpd) and a fake Twilio speaking its
Messages API: every email and SMS of a purchase sent once, retries and honest failures, the broker
and a producer crashing, an instance killed while it holds messages, redeliveries, poison events
and their replay, and who may send."""

from __future__ import annotations

import json
import secrets
import threading
import time

import pytest

from support.api import register, unique_email
from support.catalog import admin_token, create_product, internal, mint, object_id
from support.client import Client, assert_problem, body, error_fields
from support.fake_twilio import FakeTwilio
from support.nats import publish
from support.procs import wait_until
from support.smtp_server import SmtpServer

pytestmark = pytest.mark.services("products", "cart", "orders", "payments", "notification")

SERVICES = ("users", "products", "cart", "orders", "payments", "notification")
SENDER = "shop@emporium.test"
MAX_ATTEMPTS = 4


@pytest.fixture(scope="module")
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture(scope="module")
def twilio():
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture(scope="module")
def s(make_stack, smtp, twilio):
    env = {"notification": {
        "SMTP_URL": smtp.url, "NODEMAILER_EMAIL": SENDER, "STORE_NAME": "Emporium Test Shop",
        "TWILIO_ACCOUNT_SID": twilio.account_sid, "TWILIO_AUTH_TOKEN": twilio.auth_token,
        "TWILIO_PHONE_NUMBER": twilio.phone_number, "TWILIO_API_BASE": twilio.base_url,
        "NOTIFICATION_MAX_ATTEMPTS": str(MAX_ATTEMPTS)}}
    with make_stack("notify", services=SERVICES, service_env=env) as stack:
        yield stack


@pytest.fixture
def c(s):
    with Client(s.url) as client:
        yield client


@pytest.fixture
def admin(s) -> str:
    return admin_token(s)


def mails_to(smtp: SmtpServer, address: str) -> list:
    return [m for m in smtp.messages() if address in m.rcpt_tos]


def texts_to(twilio: FakeTwilio, number: str) -> list[dict]:
    return [m for m in twilio.messages() if m.get("to") == number]


def wait_mails(smtp, address, count, timeout=30.0) -> list:
    ok = wait_until(lambda: len(mails_to(smtp, address)) >= count, timeout, interval=0.1)
    got = mails_to(smtp, address)
    assert ok, f"{address}: {len(got)} of {count} emails: {[m.subject for m in got]}"
    return got


def wait_texts(twilio, number, count, timeout=30.0) -> list[dict]:
    ok = wait_until(lambda: len(texts_to(twilio, number)) >= count, timeout, interval=0.1)
    got = texts_to(twilio, number)
    assert ok, f"{number}: {len(got)} of {count} texts: {[m.get('body') for m in got]}"
    return got


def new_phone() -> str:
    return "+1555" + str(secrets.randbelow(10**7)).zfill(7)


def purchase(c, admin, who, product, quantity=2) -> tuple[dict, dict]:
    """Order from items and pay with the simulated provider's visa: (order, payment)."""
    resp = c.post(f"/api/orders/{who['user']['_id']}", token=who["token"],
                  json={"items": [{"productId": product["_id"], "quantity": quantity}]})
    assert resp.status_code == 201, resp.text
    order = body(resp)
    paid = c.post(f"/api/payments/{order['_id']}", token=who["token"], json={"paymentMethodId": "pm_card_visa"})
    assert paid.status_code == 201, paid.text
    return order, body(paid)


def set_status(c, admin, order_id, status):
    resp = c.put(f"/api/orders/{order_id}/status", token=admin, json={"status": status})
    assert resp.status_code == 200, resp.text
    return body(resp)


def notification(c, admin, nid) -> dict:
    resp = c.get(f"/api/notification/{nid}", token=admin)
    assert resp.status_code == 200, resp.text
    return body(resp)


def wait_status(c, admin, nid, status, timeout=30.0) -> dict:
    seen = {}

    def done() -> bool:
        seen.update(notification(c, admin, nid))
        return seen["status"] == status

    assert wait_until(done, timeout, interval=0.1), f"notification {nid} is {seen}"
    return seen


def all_notifications(c, admin, **params) -> list[dict]:
    out, page = [], 1
    while True:
        resp = c.get("/api/notification", token=admin, params={"page": page, "limit": 100, **params})
        assert resp.status_code == 200, resp.text
        items = body(resp)
        out.extend(items)
        if len(items) < 100:
            return out
        page += 1


def outbox_backlog(s) -> dict[str, int]:
    """Unpublished events per producing service (rows of the outbox queue not done)."""
    out = {}
    for service in ("users", "orders", "payments"):
        rows = s.dbs[service].query(
            "SELECT COUNT(*) FROM emporium_work_items WHERE queue = 'emporium-outbox' AND state <> 'done'")
        out[service] = int(rows[0][0])
    return out


# ---- a whole purchase ----------------------------------------------------------------------------

def test_a_whole_purchase_sends_each_email_and_sms_once_to_the_right_customer(s, c, admin, smtp, twilio):
    phone = new_phone()
    who = register(c, name="Ada Lovelace", phone=phone)
    email = who["email"]
    product = create_product(c, admin, name=f"Analytical Engine {secrets.token_hex(3)}", price=12.5, stock=50)
    order, payment = purchase(c, admin, who, product, quantity=2)
    set_status(c, admin, order["_id"], "Shipped")
    set_status(c, admin, order["_id"], "Delivered")

    mails = wait_mails(smtp, email, 5)
    texts = wait_texts(twilio, phone, 5)
    time.sleep(1.5)  # anything extra (a duplicate) would arrive now
    mails, texts = mails_to(smtp, email), texts_to(twilio, phone)
    assert len(mails) == 5, [m.subject for m in mails]
    assert len(texts) == 5, [t["body"] for t in texts]

    for m in mails:
        assert m.mail_from == SENDER and m.rcpt_tos == [email]
        assert "Emporium Test Shop" in (m.from_ or "") or "Emporium Test Shop" in (m.subject or "")
        assert m.content_type == "multipart/alternative", m.content_type
        assert m.text and m.html and "Ada Lovelace" in m.text
        assert m.message_id
    by_subject = " | ".join(m.subject for m in mails)
    order_mails = [m for m in mails if order["_id"] in m.text]
    assert len(order_mails) == 4, by_subject  # confirmation, receipt, shipped, delivered
    confirmation = next(m for m in order_mails if product["name"] in m.text)
    assert "25.00 USD" in confirmation.text and "12.50 USD" in confirmation.text, confirmation.text
    assert product["name"] in confirmation.html
    assert all(t["from"] == twilio.phone_number for t in texts)
    assert sum(1 for t in texts if order["_id"] in t["body"]) == 4, [t["body"] for t in texts]

    # The service's own record agrees: ten messages of this customer, all sent at the first attempt.
    mine = [n for n in all_notifications(c, admin) if n["to"] in (email, phone)]
    assert len(mine) == 10, [(n["template"], n["to"]) for n in mine]
    assert all(n["status"] == "sent" and n["attempts"] == 1 and n["lastError"] is None for n in mine), mine
    templates = sorted(n["template"] for n in mine if n["channel"] == "email")
    assert templates == sorted(["user.registered", "order.placed", "payment.succeeded",
                                "order.status_changed:Shipped", "order.status_changed:Delivered"]), templates
    assert all(n["providerId"] for n in mine)
    assert {n["providerId"] for n in mine if n["channel"] == "sms"} == {t["sid"] for t in texts}


def test_a_decline_then_a_refunded_cancel_are_written_to_the_customer(s, c, admin, smtp):
    who = register(c, name="Alan Turing")
    product = create_product(c, admin, price=4.25, stock=20)
    resp = c.post(f"/api/orders/{who['user']['_id']}", token=who["token"],
                  json={"items": [{"productId": product["_id"], "quantity": 2}]})
    assert resp.status_code == 201, resp.text
    order = body(resp)
    declined = c.post(f"/api/payments/{order['_id']}", token=who["token"],
                      json={"paymentMethodId": "pm_card_chargeDeclinedInsufficientFunds"})
    assert declined.status_code == 402, declined.text
    paid = c.post(f"/api/payments/{order['_id']}", token=who["token"], json={"paymentMethodId": "pm_card_visa"})
    assert paid.status_code == 201, paid.text
    set_status(c, admin, order["_id"], "Cancelled")

    mails = wait_mails(smtp, who["email"], 6)
    time.sleep(1.5)
    mails = mails_to(smtp, who["email"])
    templates = sorted(n["template"] for n in all_notifications(c, admin) if n["to"] == who["email"])
    assert templates == sorted(["user.registered", "order.placed", "payment.failed", "payment.succeeded",
                                "order.status_changed:Cancelled", "payment.refunded"]), templates
    assert len(mails) == 6
    failed = next(m for m in mails if "insufficient" in m.text.lower())
    assert order["_id"] in failed.text
    refund = next(m for m in mails if "refund" in m.subject.lower())
    assert "8.50" in refund.text, refund.text


def test_a_customer_without_a_phone_gets_emails_only(s, c, admin, smtp, twilio):
    who = register(c, name="Grace Hopper")
    wait_mails(smtp, who["email"], 1)
    time.sleep(0.5)
    mine = [n for n in all_notifications(c, admin) if n["userId"] == who["user"]["_id"]]
    assert [n["channel"] for n in mine] == ["email"], mine


# ---- SMTP refusing -------------------------------------------------------------------------------

def test_an_smtp_server_refusing_for_a_while_gets_the_message_once_it_accepts(s, c, admin, smtp):
    to = unique_email("retry")
    smtp.refuse(451, "4.3.0 mailbox busy, try later", times=2)
    try:
        resp = c.post("/api/notification/email", token=admin, json={"to": to, "subject": "Retry me", "text": "hello"})
        assert resp.status_code == 202, resp.text
        doc = body(resp)
        assert doc["status"] == "queued" and len(doc["_id"]) == 24
        sent = wait_status(c, admin, doc["_id"], "sent")
    finally:
        smtp.accept()
    assert sent["attempts"] == 3, sent
    assert "451" in sent["lastError"] and "mailbox busy" in sent["lastError"], sent
    assert len(mails_to(smtp, to)) == 1
    assert mails_to(smtp, to)[0].subject == "Retry me"


def test_an_smtp_server_refusing_forever_makes_the_message_failed_with_its_reply(s, c, admin, smtp):
    to = unique_email("refused")
    smtp.refuse(550, "5.7.1 relaying denied for this sender")
    try:
        resp = c.post("/api/notification/email", token=admin, json={"to": to, "subject": "No way", "text": "x"})
        assert resp.status_code == 202
        nid = body(resp)["_id"]
        failed = wait_status(c, admin, nid, "failed")
    finally:
        smtp.accept()
    assert failed["attempts"] == MAX_ATTEMPTS, failed
    assert "550" in failed["lastError"] and "relaying denied" in failed["lastError"], failed
    assert failed["sentAt"] is None
    assert mails_to(smtp, to) == []
    listed = all_notifications(c, admin, status="failed")
    assert nid in [n["_id"] for n in listed]


def test_a_twilio_error_for_a_bad_number_fails_at_once_and_a_503_is_retried(s, c, admin, twilio):
    twilio.fail_next(2, status=503)
    number = new_phone()
    resp = c.post("/api/notification/sms", token=admin, json={"to": number, "message": "Your code is 1234"})
    assert resp.status_code == 202, resp.text
    sent = wait_status(c, admin, body(resp)["_id"], "sent")
    assert sent["attempts"] == 3 and sent["providerId"].startswith("SM"), sent
    assert [t["body"] for t in texts_to(twilio, number)] == ["Your code is 1234"]


# ---- who may send, and what ----------------------------------------------------------------------

def test_sending_needs_an_admin_or_a_service_and_bad_addresses_are_400(s, c, admin):
    customer = mint(s, user_id=object_id())
    assert_problem(c.post("/api/notification/email", token=customer,
                          json={"to": "a@example.com", "subject": "s", "text": "t"}), 403)
    assert_problem(c.post("/api/notification/sms", token=customer, json={"to": "+15551234567", "message": "m"}), 403)
    assert_problem(c.post("/api/notification/email", json={"to": "a@example.com", "subject": "s", "text": "t"}), 401)
    assert_problem(c.get("/api/notification", token=customer), 403)

    doc = assert_problem(c.post("/api/notification/email", token=admin,
                                json={"to": "not-an-address", "subject": "s", "text": "t"}), 400)
    assert error_fields(doc) == {"to"}, doc
    doc = assert_problem(c.post("/api/notification/email", token=admin,
                                json={"to": "a@example.com", "subject": "two\r\nBcc: x@evil.test", "text": "t"}), 400)
    assert error_fields(doc) == {"subject"}, doc
    doc = assert_problem(c.post("/api/notification/email", token=admin,
                                json={"to": "a@example.com", "subject": "esc\u001b[2Jape", "text": "t"}), 400)
    assert error_fields(doc) == {"subject"}, doc
    doc = assert_problem(c.post("/api/notification/email", token=admin, json={"to": "a@example.com"}), 400)
    assert error_fields(doc) == {"subject", "text"}, doc
    for bad in ("5551234567", "+0123", "+1 555 123 4567", "+1234567890123456", 15551234567):
        doc = assert_problem(c.post("/api/notification/sms", token=admin, json={"to": bad, "message": "m"}), 400)
        assert error_fields(doc) == {"to"}, (bad, doc)
    doc = assert_problem(c.post("/api/notification/sms", token=admin, json={"to": "+15551234567", "message": ""}), 400)
    assert error_fields(doc) == {"message"}, doc
    assert_problem(c.get("/api/notification/nope", token=admin), 404)
    assert_problem(c.get(f"/api/notification/{object_id()}", token=admin), 404)
    doc = assert_problem(c.get("/api/notification", token=admin, params={"status": "lost"}), 400)
    assert error_fields(doc) == {"status"}

    # Another service may ask (directly: the gateway refuses internal calls).
    direct = s.direct(0, "notification")
    resp = direct.post("/api/notification/email", headers=internal(s, caller="order"),
                       json={"to": unique_email("svc"), "subject": "From a service", "text": "t"})
    assert resp.status_code == 202, resp.text


# ---- crashes and redeliveries --------------------------------------------------------------------

def test_nats_killed_during_a_purchase_load_loses_no_event_and_doubles_no_message(s, c, admin, smtp):
    product = create_product(c, admin, price=3, stock=1000)
    buyers: list[dict] = []
    errors: list[str] = []
    lock = threading.Lock()

    def shop(n: int) -> None:
        with Client(s.url) as own:
            try:
                for _ in range(n):
                    who = register(own, name="Load Buyer")
                    purchase(own, admin, who, product, quantity=1)
                    with lock:
                        buyers.append(who)
            except AssertionError as exc:  # reported below
                with lock:
                    errors.append(str(exc))

    threads = [threading.Thread(target=shop, args=(6,)) for _ in range(4)]
    for t in threads:
        t.start()
    assert wait_until(lambda: len(buyers) >= 4, 60, interval=0.05)
    s.nats.kill()
    time.sleep(2.0)  # purchases go on without the broker; their events wait in the outboxes
    assert wait_until(lambda: sum(outbox_backlog(s).values()) > 0, 20, interval=0.1), "nothing waited"
    s.nats.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert len(buyers) == 24
    # Each buyer: welcome, order confirmation, receipt; exactly once each.
    for who in buyers:
        wait_mails(smtp, who["email"], 3, timeout=60)
    time.sleep(1.5)
    counts = {who["email"]: len(mails_to(smtp, who["email"])) for who in buyers}
    assert set(counts.values()) == {3}, counts
    assert wait_until(lambda: sum(outbox_backlog(s).values()) == 0, 30, interval=0.2), outbox_backlog(s)


def test_a_notification_instance_killed_while_it_holds_messages_leaves_them_to_the_other(s, c, admin, smtp):
    recipients = [unique_email("takeover") for _ in range(6)]
    smtp.delay(3.0)  # every send hangs before the server takes the message
    try:
        ids = []
        for to in recipients:
            resp = c.post("/api/notification/email", token=admin, json={"to": to, "subject": "Once", "text": "t"})
            assert resp.status_code == 202
            ids.append(body(resp)["_id"])
        victim = s.notifications[0]
        owner = f":{victim.proc.pid}:"

        def held() -> bool:
            rows = s.dbs["notification"].query(
                "SELECT lease_owner FROM emporium_work_items WHERE queue = 'notifications' AND state = 'running'")
            return any(owner in (r[0] or "") for r in rows)

        assert wait_until(held, 20, interval=0.05), "instance 0 never held a message"
        s.kill_instance("notification", 0)
    finally:
        smtp.delay(0)
    try:
        for nid in ids:
            wait_status(c, admin, nid, "sent", timeout=60)
        time.sleep(1.0)
        assert {to: len(mails_to(smtp, to)) for to in recipients} == {to: 1 for to in recipients}
    finally:
        s.restart_instance(0, "notification")


def test_a_producer_killed_between_its_commit_and_the_publish_still_delivers_the_event(s, c, admin, smtp):
    s.nats.kill()
    try:
        who = register(c, name="Crash Test")
        assert wait_until(lambda: outbox_backlog(s)["users"] > 0, 10, interval=0.05)
        for i in range(len(s.instances)):
            s.kill_instance("users", i)
    finally:
        s.nats.start()
    try:
        time.sleep(1.0)
        assert mails_to(smtp, who["email"]) == []  # nobody published it
    finally:
        for i in range(len(s.instances)):
            s.restart_instance(i, "users")
    mails = wait_mails(smtp, who["email"], 1)
    time.sleep(1.0)
    assert len(mails_to(smtp, who["email"])) == 1 and "Crash Test" in mails[0].text


def event(type_: str, data: dict, event_id: str | None = None, source: str | None = None) -> dict:
    source = source or type_.split(".")[0] + "-service"  # the aggregate's producer
    return {"id": event_id or object_id(), "type": type_, "occurredAt": "2026-12-02T10:00:00.000Z",
            "source": source, "subject": f"emporium.{type_}", "data": data, "traceparent": ""}


def test_a_redelivered_event_has_no_second_effect(s, c, admin, smtp):
    to = unique_email("dup")
    e = event("user.registered", {"userId": object_id(), "name": "Twice Sent", "email": to, "phone": None})
    payload = json.dumps(e).encode()
    # The same event id under two message ids: JetStream stores both, the consumer sees both.
    publish(s.nats.url, "emporium.user.registered", payload, msg_id="a-" + e["id"])
    publish(s.nats.url, "emporium.user.registered", payload, msg_id="b-" + e["id"])
    wait_mails(smtp, to, 1)
    time.sleep(1.5)
    assert len(mails_to(smtp, to)) == 1
    mine = [n for n in all_notifications(c, admin) if n["to"] == to]
    assert len(mine) == 1 and mine[0]["eventId"] == e["id"]


def test_a_poison_event_ends_in_the_dead_letters_and_replaying_it_after_a_fix_delivers_it(s, c, admin, smtp):
    to = unique_email("poison")
    order = {"_id": object_id(), "userId": object_id(), "status": "Pending", "currency": "usd", "totalAmount": 7.5,
             "items": [{"productId": object_id(), "name": "Mended Vase", "price": 7.5, "quantity": 1}],
             "shippingAddress": None, "createdAt": "2026-12-02T10:00:00.000Z"}
    e = event("order.placed", {"order": order, "customer": None})  # no one to write to
    publish(s.nats.url, "emporium.order.placed", json.dumps(e).encode(), msg_id=e["id"])

    found: dict = {}

    def dead() -> bool:
        resp = c.get("/api/notification/events/dead-letters", token=admin)
        assert resp.status_code == 200, resp.text
        for d in body(resp):
            if d["eventId"] == e["id"]:
                found.update(d)
                return True
        return False

    assert wait_until(dead, 20, interval=0.1)
    assert found["type"] == "order.placed" and "customer" in found["error"], found
    assert found["deliveries"] == 1 and found["replayedAt"] is None
    assert found["event"]["data"]["customer"] is None
    assert_problem(c.get("/api/notification/events/dead-letters", token=mint(s, user_id=object_id())), 403)

    again = assert_problem(c.post(f"/api/notification/events/dead-letters/{found['_id']}/replay", token=admin), 409)
    assert again["code"] == "replay_failed"
    fixed = dict(e["data"], customer={"userId": order["userId"], "name": "Mended", "email": to, "phone": None})
    resp = c.post(f"/api/notification/events/dead-letters/{found['_id']}/replay", token=admin, json={"data": fixed})
    assert resp.status_code == 200, resp.text
    assert body(resp)["replayedAt"] is not None
    mails = wait_mails(smtp, to, 1)
    assert "Mended Vase" in mails[0].text
    assert_problem(c.post(f"/api/notification/events/dead-letters/{found['_id']}/replay", token=admin), 409)
    replayed = body(c.get("/api/notification/events/dead-letters", token=admin, params={"status": "replayed"}))
    assert e["id"] in [d["eventId"] for d in replayed]
    time.sleep(1.0)
    assert len(mails_to(smtp, to)) == 1


def test_readyz_names_the_broker_while_it_is_down(s):
    direct = s.direct(0, "orders")
    assert direct.get("/readyz").status_code == 200
    s.nats.kill()
    try:
        def down() -> bool:
            resp = direct.get("/readyz", expect_5xx=True)
            return resp.status_code == 503 and "broker" in resp.text

        assert wait_until(down, 15, interval=0.1)
    finally:
        s.nats.start()
    assert wait_until(lambda: direct.get("/readyz", expect_5xx=True).status_code == 200, 20, interval=0.1)


def test_a_payment_succeeded_event_pays_the_order_once_when_the_call_never_came(s, c, admin, smtp):
    """DESIGN §12: Paid is driven by payment-service's call and by the payment.succeeded event. Here
    only the event arrives (as when order-service was down for the call), twice."""
    who = register(c, name="Event Payer")
    product = create_product(c, admin, price=5, stock=10)
    resp = c.post(f"/api/orders/{who['user']['_id']}", token=who["token"],
                  json={"items": [{"productId": product["_id"], "quantity": 1}]})
    assert resp.status_code == 201, resp.text
    order = body(resp)
    payment_id = object_id()
    customer = {"userId": who["user"]["_id"], "name": "Event Payer", "email": who["email"], "phone": None}
    data = {"paymentId": payment_id, "orderId": order["_id"], "userId": who["user"]["_id"],
            "amount": 500, "currency": "usd", "status": "succeeded", "order": order, "customer": customer}
    # Refused first: another source, another amount, another aggregate's subject (sent to someone
    # else: notification-service writes about any event payment-service really sent).
    elsewhere = dict(data, customer=dict(customer, email=unique_email("forged")))
    forged = [event("payment.succeeded", elsewhere, source="notification-service"),
              event("payment.succeeded", dict(elsewhere, amount=1))]
    for f in forged:
        publish(s.nats.url, "emporium.payment.succeeded", json.dumps(f).encode(), msg_id=f["id"])
    wrong_subject = event("payment.succeeded", elsewhere)
    wrong_subject["subject"] = "emporium.user.registered"
    publish(s.nats.url, "emporium.user.registered", json.dumps(wrong_subject).encode(), msg_id=wrong_subject["id"])

    def order_dead() -> set[str]:
        resp = c.get("/api/orders/events/dead-letters", token=admin)
        assert resp.status_code == 200, resp.text
        return {d["eventId"] for d in body(resp)}

    assert wait_until(lambda: {f["id"] for f in forged} <= order_dead(), 20, interval=0.1), order_dead()
    doc = body(c.get(f"/api/orders/{who['user']['_id']}/{order['_id']}", token=who["token"]))
    assert doc["status"] == "Pending", doc

    e = event("payment.succeeded", data)
    payload = json.dumps(e).encode()
    publish(s.nats.url, "emporium.payment.succeeded", payload, msg_id="a-" + e["id"])

    def paid() -> dict | None:
        doc = body(c.get(f"/api/orders/{who['user']['_id']}/{order['_id']}", token=who["token"]))
        return doc if doc["status"] == "Paid" else None

    assert wait_until(lambda: paid() is not None, 20, interval=0.1)
    publish(s.nats.url, "emporium.payment.succeeded", payload, msg_id="b-" + e["id"])
    time.sleep(1.5)
    doc = paid()
    assert doc is not None and [h["status"] for h in doc["history"]] == ["Pending", "Paid"], doc
    internal_doc = body(s.direct(0, "orders").get(f"/api/orders/internal/{order['_id']}",
                                                  headers=internal(s, caller="payment")))
    assert internal_doc["paidPaymentId"] == payment_id
    # Welcome, confirmation, and the receipt the event itself asked for; nothing twice.
    wait_mails(smtp, who["email"], 3)
    time.sleep(1.0)
    assert len(mails_to(smtp, who["email"])) == 3
