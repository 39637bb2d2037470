"""A fake Stripe that speaks Stripe's v1 wire protocol, for payment-service's functional tests
(DESIGN §12, API.md payment section). Standard library only.

    with FakeStripe("sk_test_emporium", webhook_url=..., webhook_secret="whsec_...") as stripe:
        env["STRIPE_API_BASE"] = stripe.url      # http://127.0.0.1:PORT, no trailing slash
        ...
        assert stripe.charges == 1

What it speaks, as Stripe does:
- `Authorization: Bearer <secret key>` (401 otherwise, `WWW-Authenticate: Basic realm="Stripe"`);
  a `Stripe-Version` header must look like `2024-06-20` when present; bodies are
  `application/x-www-form-urlencoded` with `a[b][c]=x` nesting and `a[0]=x` / `a[]=x` arrays (a JSON
  body is a 400); unknown parameters are a 400 `parameter_unknown`; amounts are integers in minor
  units (`20.5` is a 400 `parameter_invalid_integer`).
- Routes: POST /v1/payment_intents, GET /v1/payment_intents/{id}, POST .../{id}/confirm,
  POST .../{id}/cancel, GET /v1/payment_intents/search?query=metadata['k']:'v', POST /v1/refunds,
  GET /v1/refunds/{id}, GET /v1/charges/{id}, GET /v1/events/{id}. Anything else: 404 Stripe error.
- Stripe's test payment methods (TEST_PAYMENT_METHODS): pm_card_visa, pm_card_mastercard, … succeed;
  pm_card_chargeDeclined* answer 402 `card_error` with `code`, `decline_code`, `charge` and the
  PaymentIntent (now `requires_payment_method` with `last_payment_error`);
  pm_card_authenticationRequired gives `requires_action` + `next_action.type=use_stripe_sdk` (402
  `authentication_required` with `off_session=true` or `error_on_requires_action=true`). Another
  `pm_…` is a 400 `resource_missing`. `confirm=true` with `automatic_payment_methods[enabled]=true`
  needs `automatic_payment_methods[allow_redirects]=never` or a `return_url` (400 otherwise, as
  Stripe). Minimum amount 50 for usd/eur/gbp (`amount_too_small`), maximum 99,999,999.
- Idempotency (POST only): keys scoped per API key; the same key with the same method, path and
  parameters replays the first answer byte for byte with `Idempotent-Replayed: true` and creates
  nothing; other parameters → 400 `idempotency_error`; the same key while its first request is
  still running → 409 `idempotency_key_in_use` (`idempotency_in_progress="wait"` serialises
  instead). As Stripe, results are saved once execution began: parameter validation errors are
  not saved, declines and other execution results (402, resource_missing, refund limits) are.
- Refunds: `payment_intent` (or `charge`), optional `amount`, `metadata`, `reason`; the sum never
  exceeds the charge (`amount_too_large`, then `charge_already_refunded`).
- Events (`events()`): payment_intent.succeeded, payment_intent.payment_failed, charge.refunded
  (with `all_events=True` also payment_intent.created, charge.succeeded, charge.failed,
  payment_intent.requires_action, payment_intent.canceled, refund.created). With a webhook URL and
  auto-delivery, each is POSTed asynchronously (a small worker pool, so order is not guaranteed and
  a webhook may race the API answer), pretty-printed JSON as Stripe sends it, signed
  `Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>[,v0=<random>]` (Stripe
  adds a meaningless v0 to test-mode events; `include_v0=False` drops it).

Faults for tests: fail_next(n, "503" | "500" | "429" | "drop_before" | "drop_after_charge"), delay().
Search results are read-after-write consistent here (real Stripe's search lags up to a minute).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import http.client
import json
import queue
import random
import re
import secrets
import socket
import string
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from .fake_http import FakeHandler, FakeServer

DEFAULT_API_KEY = "sk_test_emporium"
DEFAULT_WEBHOOK_SECRET = "whsec_emporium_test_secret"
DEFAULT_API_VERSION = "2024-06-20"
SIGNATURE_TOLERANCE = 300

_ALNUM = string.ascii_letters + string.digits


def _rand(n: int = 24) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(n))


def new_id(prefix: str) -> str:
    """A Stripe-looking id: `pi_3Q…`, `ch_3Q…`, `re_3Q…`, `evt_3Q…` (24 characters after the prefix)."""
    return f"{prefix}_3Q{_rand(22)}"


# --- webhook signatures -------------------------------------------------------------------------

def sign(payload: bytes, secret: str, t: int) -> str:
    """Stripe's v1 scheme: hex HMAC-SHA256 of `"<t>." + payload` keyed with the endpoint secret."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    return hmac.new(secret.encode("utf-8"), str(int(t)).encode("ascii") + b"." + payload,
                    hashlib.sha256).hexdigest()


def signature_header(payload: bytes, secret: str, t: int | None = None, extra_signatures=(),
                     extra_secrets=(), include_v0: bool = False) -> str:
    """`t=<t>,v1=<extra…>,v1=<sig>[,v1=<sig with extra secret>…][,v0=<random>]`: the extra v1
    values come first, so a verifier that only checks the first v1 fails."""
    t = int(time.time()) if t is None else int(t)
    parts = [f"t={t}"]
    parts += [f"v1={s}" for s in extra_signatures]
    parts.append(f"v1={sign(payload, secret, t)}")
    parts += [f"v1={sign(payload, s, t)}" for s in extra_secrets]
    if include_v0:
        parts.append(f"v0={secrets.token_hex(32)}")
    return ",".join(parts)


def verify_signature_header(payload: bytes, header: str, secret: str, tolerance: int = SIGNATURE_TOLERANCE,
                            now: float | None = None) -> bool:
    """A reference verifier (what payment-service must do): any v1 matches in constant time and
    the timestamp is within `tolerance` seconds of now."""
    t = None
    v1 = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            t = value
        elif key == "v1":
            v1.append(value)
    if t is None or not t.isdigit() or not v1:
        return False
    now = time.time() if now is None else now
    if abs(now - int(t)) > tolerance:
        return False
    expected = sign(payload, secret, int(t))
    return any(hmac.compare_digest(expected, s) for s in v1)


# --- form bodies --------------------------------------------------------------------------------

class FormError(ValueError):
    pass


_KEY_RE = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def parse_form(text: str) -> dict:
    """Stripe's form decoding: `metadata[orderId]=x` → {"metadata": {"orderId": "x"}},
    `items[0][price]=p` → {"items": [{"price": "p"}]}, `expand[]=a` → {"expand": ["a"]}.
    Every leaf is a string; a repeated scalar key keeps the last value."""
    root: dict = {}
    for pair in text.split("&"):
        if not pair:
            continue
        raw_name, _, raw_value = pair.partition("=")
        value = urllib.parse.unquote_plus(raw_name and raw_value, errors="strict")
        # Structural brackets are literal in core's form_encode (a bracket inside a name is %5B/%5D);
        # clients that escape every bracket (requests) are decoded first.
        literal = "[" in raw_name
        name = raw_name if literal else urllib.parse.unquote_plus(raw_name, errors="strict")
        raw_key = urllib.parse.unquote_plus(raw_name, errors="strict")
        m = _KEY_RE.match(name)
        if not m:
            raise FormError(f"Invalid parameter name: {raw_key}")
        path = [m.group(1)] + re.findall(r"\[([^\[\]]*)\]", m.group(2))
        if literal:
            path = [urllib.parse.unquote_plus(seg, errors="strict") for seg in path]
        node = root
        for i, seg in enumerate(path):
            last = i == len(path) - 1
            if seg == "":
                if not isinstance(node, _Appendable):
                    raise FormError(f"Invalid array: {raw_key}")
                if last:
                    node.append(value)
                    break
                child: dict = {}
                node.append(child)
                node = child
                continue
            if isinstance(node, _Appendable):
                raise FormError(f"Invalid array: {raw_key}")
            if last:
                if isinstance(node.get(seg), (dict, _Appendable)):
                    raise FormError(f"Invalid hash: {raw_key}")
                node[seg] = value
            else:
                nxt = path[i + 1]
                existing = node.get(seg)
                if existing is None:
                    existing = _Appendable() if nxt == "" else {}
                    node[seg] = existing
                elif isinstance(existing, str) or (nxt == "") != isinstance(existing, _Appendable):
                    raise FormError(f"Invalid hash: {raw_key}")
                node = existing
    return _finish(root, top=True)


class _Appendable(list):
    pass


def _finish(node, top=False, name=""):
    if isinstance(node, _Appendable):
        return [_finish(v) for v in node]
    if isinstance(node, dict):
        out = {k: _finish(v, name=k) for k, v in node.items()}
        if out and not top and name != "metadata" and all(k.isdigit() for k in out):
            return [out[k] for k in sorted(out, key=int)]
        return out
    return node


# --- Stripe errors ------------------------------------------------------------------------------

class StripeError(Exception):
    def __init__(self, status: int, type_: str, message: str, saved: bool = True, **fields):
        super().__init__(message)
        self.status = status
        self.saved = saved  # kept for the idempotency key (False: a validation error)
        self.error = {"type": type_, "message": message}
        self.error.update({k: v for k, v in fields.items() if v is not None})
        if "code" in fields and fields["code"] and "doc_url" not in fields:
            self.error["doc_url"] = "https://stripe.com/docs/error-codes/" + fields["code"].replace("_", "-")

    def body(self) -> dict:
        return {"error": self.error}


def _invalid(message: str, code: str | None = None, param: str | None = None, status: int = 400,
             saved: bool = False) -> StripeError:
    return StripeError(status, "invalid_request_error", message, saved=saved, code=code, param=param)


# --- test payment methods -----------------------------------------------------------------------

@dataclass(frozen=True)
class _Card:
    brand: str
    last4: str
    outcome: str = "succeed"          # succeed | decline | authenticate
    code: str | None = None
    decline_code: str | None = None
    message: str | None = None
    param: str | None = None


_DECLINED = "Your card was declined."
TEST_PAYMENT_METHODS: dict[str, _Card] = {
    "pm_card_visa": _Card("visa", "4242"),
    "pm_card_visa_debit": _Card("visa", "5556"),
    "pm_card_mastercard": _Card("mastercard", "4444"),
    "pm_card_mastercard_debit": _Card("mastercard", "8210"),
    "pm_card_amex": _Card("amex", "8431"),
    "pm_card_discover": _Card("discover", "1117"),
    "pm_card_chargeDeclined": _Card("visa", "0002", "decline", "card_declined", "generic_decline", _DECLINED),
    "pm_card_chargeDeclinedInsufficientFunds": _Card(
        "visa", "9995", "decline", "card_declined", "insufficient_funds", "Your card has insufficient funds."),
    "pm_card_chargeDeclinedExpiredCard": _Card(
        "visa", "0069", "decline", "expired_card", "expired_card", "Your card has expired.", "exp_month"),
    "pm_card_chargeDeclinedIncorrectCvc": _Card(
        "visa", "0127", "decline", "incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect.", "cvc"),
    "pm_card_chargeDeclinedProcessingError": _Card(
        "visa", "0119", "decline", "processing_error", "processing_error",
        "An error occurred while processing your card. Try again in a little bit."),
    "pm_card_chargeDeclinedFraudulent": _Card("visa", "0019", "decline", "card_declined", "fraudulent", _DECLINED),
    "pm_card_chargeDeclinedLostCard": _Card("visa", "9987", "decline", "card_declined", "lost_card", _DECLINED),
    "pm_card_chargeDeclinedStolenCard": _Card("visa", "9979", "decline", "card_declined", "stolen_card", _DECLINED),
    "pm_card_authenticationRequired": _Card("visa", "3184", "authenticate"),
}

_PI_CREATE_PARAMS = {
    "amount", "currency", "payment_method", "confirm", "metadata", "automatic_payment_methods", "description",
    "customer", "receipt_email", "return_url", "capture_method", "payment_method_types", "off_session",
    "error_on_requires_action", "statement_descriptor", "statement_descriptor_suffix", "setup_future_usage",
    "confirmation_method", "expand", "payment_method_options", "shipping", "use_stripe_sdk",
}
_PI_CONFIRM_PARAMS = {"payment_method", "return_url", "off_session", "error_on_requires_action", "expand",
                      "receipt_email", "use_stripe_sdk", "payment_method_options", "capture_method"}
_REFUND_PARAMS = {"payment_intent", "charge", "amount", "metadata", "reason", "expand", "instructions_email"}
_CANCELABLE = ("requires_payment_method", "requires_capture", "requires_confirmation", "requires_action",
               "processing")
_MIN_AMOUNT = {"usd": 50, "eur": 50, "gbp": 30}


# --- faults -------------------------------------------------------------------------------------

FAULT_MODES = ("503", "500", "429", "drop_before", "drop_after_charge")
_FAULT_ALIASES = {"drop": "drop_before", "drop_after": "drop_after_charge"}


@dataclass
class _Rule:
    remaining: int | None  # None: until cleared
    method: str | None
    path: str | None
    mode: str = ""
    seconds: float = 0.0
    after_work: bool = False

    def matches(self, method: str, path: str) -> bool:
        return ((self.method is None or self.method.upper() == method)
                and (self.path is None or path.startswith(self.path)))


@dataclass
class _IdemRecord:
    fingerprint: tuple
    done: threading.Event = field(default_factory=threading.Event)
    status: int = 0
    body: bytes = b""
    request_id: str = ""
    saved: bool = False


class FakeStripe:
    """Fake Stripe API on 127.0.0.1 (a free port) for the duration of a `with` block."""

    def __init__(self, api_key: str = DEFAULT_API_KEY, *, webhook_url: str | None = None,
                 webhook_secret: str = DEFAULT_WEBHOOK_SECRET, auto_deliver: bool = True,
                 webhook_delay: float = 0.0, api_version: str = DEFAULT_API_VERSION, all_events: bool = False,
                 idempotency_in_progress: str = "409", include_v0: bool = True, webhook_timeout: float = 5.0,
                 webhook_workers: int = 4, host: str = "127.0.0.1", port: int = 0):
        if not api_key.startswith("sk_test_"):
            raise ValueError("the fake takes test secret keys only (sk_test_…)")
        if idempotency_in_progress not in ("409", "wait"):
            raise ValueError("idempotency_in_progress is '409' or 'wait'")
        self.api_key = api_key
        self.api_version = api_version
        self.all_events = all_events
        self.include_v0 = include_v0
        self.idempotency_in_progress = idempotency_in_progress
        self.webhook_timeout = webhook_timeout
        self._api_keys = {api_key}
        self._host, self._port = host, port
        self._lock = threading.RLock()
        self._webhook_url = webhook_url
        self._webhook_secret = webhook_secret
        self._auto_deliver = auto_deliver
        self._webhook_delay = webhook_delay
        self._webhook_workers = webhook_workers
        self._pis: dict[str, dict] = {}
        self._pi_order: list[str] = []
        self._pi_methods: dict[str, str] = {}  # PaymentIntent id -> test payment method alias
        self._charges: dict[str, dict] = {}
        self._refunds: dict[str, dict] = {}
        self._events: list[dict] = []
        self._idem: dict[tuple[str, str], _IdemRecord] = {}
        self._log: list[dict] = []
        self._deliveries: list[dict] = []
        self._faults: list[_Rule] = []
        self._delays: list[_Rule] = []
        self._counts = {"payment_intents_created": 0, "charges": 0, "failed_charges": 0, "refunds": 0}
        self._server: FakeServer | None = None
        self._thread: threading.Thread | None = None
        self._open: set[socket.socket] = set()
        self._queue: queue.Queue = queue.Queue()
        self._workers: list[threading.Thread] = []
        self._pending = 0
        self._idle = threading.Condition(self._lock)

    # --- life cycle -----------------------------------------------------------------------------

    def __enter__(self) -> "FakeStripe":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> "FakeStripe":
        fake = self

        class Handler(_Handler):
            pass

        Handler.fake = fake
        self._server = FakeServer((self._host, self._port), Handler)
        self._server.daemon_threads = True
        self._port = self._server.server_address[1]  # a restart after stop() keeps the port (and the state)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-stripe", daemon=True)
        self._thread.start()
        for i in range(self._webhook_workers):
            w = threading.Thread(target=self._delivery_worker, name=f"fake-stripe-webhook-{i}", daemon=True)
            w.start()
            self._workers.append(w)
        return self

    def stop(self) -> None:
        """Stops answering (connections are refused until start() again, on the same port, with the
        same state): "Stripe unreachable"."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            conns = list(self._open)
        for conn in conns:  # idle keep-alive connections end now, not at their timeout
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for _ in self._workers:
            self._queue.put(None)
        for w in self._workers:
            w.join(timeout=2)
        self._workers.clear()
        self._server = None

    @property
    def port(self) -> int:
        assert self._port, "never started"
        return self._port

    @property
    def url(self) -> str:
        """The base URL (STRIPE_API_BASE): http://127.0.0.1:PORT"""
        return f"http://{self._host}:{self.port}"

    def add_api_key(self, key: str) -> None:
        """Accept another secret key (idempotency keys are scoped per API key)."""
        with self._lock:
            self._api_keys.add(key)

    # --- webhook configuration ------------------------------------------------------------------

    @property
    def webhook_url(self) -> str | None:
        return self._webhook_url

    @webhook_url.setter
    def webhook_url(self, url: str | None) -> None:
        self._webhook_url = url

    @property
    def webhook_secret(self) -> str:
        return self._webhook_secret

    @webhook_secret.setter
    def webhook_secret(self, secret: str) -> None:
        self._webhook_secret = secret

    @property
    def auto_deliver(self) -> bool:
        return self._auto_deliver

    @auto_deliver.setter
    def auto_deliver(self, on: bool) -> None:
        self._auto_deliver = on

    def set_webhook(self, url: str | None, secret: str | None = None, auto_deliver: bool = True,
                    delay: float | None = None) -> None:
        self._webhook_url = url
        if secret is not None:
            self._webhook_secret = secret
        self._auto_deliver = auto_deliver
        if delay is not None:
            self._webhook_delay = delay

    # --- fault injection ------------------------------------------------------------------------

    def fail_next(self, n: int | None = 1, mode: str = "503", *, method: str | None = None,
                  path: str | None = None) -> None:
        """The next `n` matching requests (None: all until clear_faults()) fail: "503"/"500" answer a
        Stripe `api_error`, "429" a `rate_limit` error, all before any work; "drop_before" closes
        the connection without doing anything; "drop_after_charge" does the work (charges, stores
        the idempotent result, records the events) and then closes without answering. `method` and
        `path` (a prefix, e.g. "/v1/payment_intents") restrict which requests count."""
        mode = _FAULT_ALIASES.get(mode, mode)
        if mode not in FAULT_MODES:
            raise ValueError(f"mode must be one of {FAULT_MODES}")
        with self._lock:
            self._faults.append(_Rule(n, method, path, mode=mode))

    def delay(self, seconds: float, n: int | None = None, *, method: str | None = None, path: str | None = None,
              after_work: bool = False) -> None:
        """Each matching request (the next `n`, or all until clear_faults()) waits `seconds` before it
        is handled, or with `after_work=True` after the work is done and before the answer (a charge
        made whose answer is late). delay(0) clears the delays."""
        with self._lock:
            if seconds <= 0:
                self._delays.clear()
            else:
                self._delays.append(_Rule(n, method, path, seconds=seconds, after_work=after_work))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._delays.clear()

    def _take(self, rules: list[_Rule], method: str, path: str) -> _Rule | None:
        with self._lock:
            for rule in rules:
                if rule.matches(method, path):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                        if rule.remaining <= 0:
                            rules.remove(rule)
                    return rule
        return None

    # --- counters and state for tests -------------------------------------------------------------

    @property
    def payment_intents_created(self) -> int:
        with self._lock:
            return self._counts["payment_intents_created"]

    @property
    def charges(self) -> int:
        """Succeeded charges (= PaymentIntents that reached `succeeded`)."""
        with self._lock:
            return self._counts["charges"]

    @property
    def failed_charges(self) -> int:
        with self._lock:
            return self._counts["failed_charges"]

    @property
    def refunds(self) -> int:
        with self._lock:
            return self._counts["refunds"]

    def refunded_amount(self, payment_intent_id: str) -> int:
        with self._lock:
            return sum(r["amount"] for r in self._refunds.values() if r["payment_intent"] == payment_intent_id)

    def refunds_for(self, payment_intent_id: str) -> list[dict]:
        with self._lock:
            return [copy.deepcopy(r) for r in self._refunds.values() if r["payment_intent"] == payment_intent_id]

    def succeeded_charges_by(self, metadata_key: str = "orderId") -> dict[str, int]:
        """metadata[metadata_key] → number of succeeded charges (e.g. exactly 1 per order)."""
        out: dict[str, int] = {}
        with self._lock:
            for ch in self._charges.values():
                if ch["status"] == "succeeded":
                    k = ch["metadata"].get(metadata_key)
                    out[k] = out.get(k, 0) + 1
        return out

    def payment_intent(self, pi_id: str) -> dict | None:
        with self._lock:
            pi = self._pis.get(pi_id)
            return copy.deepcopy(pi) if pi else None

    def payment_intents(self, **metadata) -> list[dict]:
        """PaymentIntents in creation order, optionally those whose metadata has these values."""
        with self._lock:
            return [copy.deepcopy(self._pis[i]) for i in self._pi_order
                    if all(self._pis[i]["metadata"].get(k) == v for k, v in metadata.items())]

    def charge(self, charge_id: str) -> dict | None:
        with self._lock:
            ch = self._charges.get(charge_id)
            return copy.deepcopy(ch) if ch else None

    def refund(self, refund_id: str) -> dict | None:
        with self._lock:
            r = self._refunds.get(refund_id)
            return copy.deepcopy(r) if r else None

    def request_log(self, method: str | None = None, path: str | None = None) -> list[dict]:
        """Every request answered or dropped: method, path, query, headers (lower-case names),
        params (decoded form), status (None when dropped), idempotency_key, stripe_version,
        replayed, fault, at."""
        with self._lock:
            return [dict(r) for r in self._log
                    if (method is None or r["method"] == method.upper())
                    and (path is None or r["path"].startswith(path))]

    def events(self, type: str | None = None) -> list[dict]:  # noqa: A002 (Stripe's field name)
        with self._lock:
            return [copy.deepcopy(e) for e in self._events if type is None or e["type"] == type]

    def event(self, event_id: str) -> dict | None:
        with self._lock:
            for e in self._events:
                if e["id"] == event_id:
                    return copy.deepcopy(e)
        return None

    def deliveries(self) -> list[dict]:
        """Every webhook POST: event_id, type, status (0: no answer), error, auto, at."""
        with self._lock:
            return [dict(d) for d in self._deliveries]

    # --- scenario helpers -----------------------------------------------------------------------

    def complete_action(self, pi_id: str, succeed: bool = True) -> dict:
        """The customer finishes (or fails) 3-D Secure for a `requires_action` PaymentIntent: it
        becomes `succeeded` (a charge, payment_intent.succeeded) or `requires_payment_method`
        (payment_intent.payment_failed with `authentication_required`). Returns the PaymentIntent."""
        with self._lock:
            pi = self._pis.get(pi_id)
            if pi is None or pi["status"] != "requires_action":
                raise ValueError(f"{pi_id} is not requires_action")
            pi["next_action"] = None
            if succeed:
                self._succeed(pi, None)
            else:
                card = _Card("visa", "3184", "decline", "payment_intent_authentication_failure", None,
                             "The provided PaymentMethod has failed authentication. You can provide "
                             "payment_method_data or a new PaymentMethod to attempt to fulfill this "
                             "PaymentIntent again.")
                self._fail(pi, card, None, with_charge=False)
            return copy.deepcopy(pi)

    def record_event(self, type: str, data_object: dict, deliver: bool | None = None,  # noqa: A002
                     previous_attributes: dict | None = None) -> dict:
        """Record an event of any type (delivered when auto-delivery is on, or when `deliver`)."""
        with self._lock:
            return self._emit(type, data_object, None, previous_attributes, force=True, deliver=deliver)

    # --- webhook delivery -----------------------------------------------------------------------

    def deliver(self, event: dict, times: int = 1, timestamp: int | float | None = None, tamper=False,
                secret: str | None = None, extra_signatures=(), extra_secrets=(), url: str | None = None,
                signature: str | None = None) -> list[int]:
        """POST `event` (an event dict or id) to the webhook URL `times` times; returns the HTTP
        statuses (0 when no answer came; the error is in deliveries()). `timestamp` signs with that
        time (e.g. time.time() - 400); `tamper=True` changes one byte of the body after signing
        (the event id's last character, so the body stays valid JSON), or a callable bytes→bytes;
        `secret` signs with another secret; `extra_signatures` are v1 values placed before the real
        one, `extra_secrets` add v1 signatures made with other secrets; `signature` sends that
        header verbatim. Never raises for a failed delivery."""
        if isinstance(event, str):
            found = self.event(event)
            if found is None:
                raise KeyError(event)
            event = found
        target = url or self._webhook_url
        if not target:
            raise ValueError("no webhook_url")
        return [self._post_event(event, target, timestamp, tamper, secret, extra_signatures, extra_secrets,
                                 signature, auto=False) for _ in range(times)]

    def deliver_all_shuffled(self, times: int = 3, threads: int = 8, type: str | None = None,  # noqa: A002
                             seed: int | None = None) -> list[int]:
        """Every recorded event (of `type`) delivered `times` times, in random order, from `threads`
        threads at once. Returns the statuses in completion order."""
        jobs = [e for e in self.events(type) for _ in range(times)]
        random.Random(seed).shuffle(jobs)
        target = self._webhook_url
        if not target:
            raise ValueError("no webhook_url")
        with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
            return list(pool.map(lambda e: self._post_event(e, target, None, False, None, (), (), None,
                                                            auto=False), jobs))

    def wait_deliveries(self, timeout: float = 5.0) -> bool:
        """Waits until every auto-delivery queued so far was attempted."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def _post_event(self, event, target, timestamp, tamper, secret, extra_signatures, extra_secrets,
                    signature, auto) -> int:
        body = json.dumps(event, indent=2).encode("utf-8")
        t = int(time.time() if timestamp is None else timestamp)
        header = signature if signature is not None else signature_header(
            body, secret or self._webhook_secret, t, extra_signatures, extra_secrets, self.include_v0)
        if callable(tamper):
            body = tamper(body)
        elif tamper:
            body = _tamper_one_byte(body, event.get("id", ""))
        status, error = 0, None
        try:
            u = urllib.parse.urlsplit(target)
            conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=self.webhook_timeout)
            try:
                conn.request("POST", (u.path or "/") + (f"?{u.query}" if u.query else ""), body=body, headers={
                    "Content-Type": "application/json; charset=utf-8",
                    "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                    "Stripe-Signature": header,
                    "Cache-Control": "no-cache",
                    "Accept": "*/*; q=0.5, application/xml",
                })
                resp = conn.getresponse()
                resp.read()
                status = resp.status
            finally:
                conn.close()
        except Exception as exc:  # noqa: BLE001 (a failed delivery is a result, never an exception)
            error = f"{type(exc).__name__}: {exc}"
        with self._lock:
            self._deliveries.append({"event_id": event.get("id"), "type": event.get("type"), "status": status,
                                     "error": error, "auto": auto, "url": target, "at": time.time()})
        return status

    def _delivery_worker(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            event, not_before = item
            try:
                wait = not_before - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                target = self._webhook_url
                if target:
                    self._post_event(event, target, None, False, None, (), (), None, auto=True)
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    # --- state changes (called with the lock held) ----------------------------------------------

    def _emit(self, type_: str, obj: dict, ctx: dict | None, previous: dict | None = None, force: bool = False,
              deliver: bool | None = None) -> dict | None:
        core = type_ in ("payment_intent.succeeded", "payment_intent.payment_failed", "charge.refunded")
        if not (core or self.all_events or force):
            return None
        data = {"object": copy.deepcopy(obj)}
        if previous is not None:
            data["previous_attributes"] = previous
        event = {
            "id": new_id("evt"),
            "object": "event",
            "api_version": self.api_version,
            "created": int(time.time()),
            "data": data,
            "livemode": False,
            "pending_webhooks": 1 if self._webhook_url else 0,
            "request": {"id": ctx["request_id"] if ctx else None,
                        "idempotency_key": ctx.get("idempotency_key") if ctx else None},
            "type": type_,
        }
        self._events.append(event)
        if self._webhook_url and (self._auto_deliver if deliver is None else deliver):
            with self._idle:
                self._pending += 1
            self._queue.put((copy.deepcopy(event), time.monotonic() + self._webhook_delay))
        return event

    def _new_charge(self, pi: dict, card: _Card, status: str) -> dict:
        ok = status == "succeeded"
        ch = {
            "id": new_id("ch"),
            "object": "charge",
            "amount": pi["amount"],
            "amount_captured": pi["amount"] if ok else 0,
            "amount_refunded": 0,
            "balance_transaction": new_id("txn") if ok else None,
            "captured": ok,
            "created": int(time.time()),
            "currency": pi["currency"],
            "customer": pi["customer"],
            "description": pi["description"],
            "failure_code": None if ok else card.code,
            "failure_message": None if ok else card.message,
            "livemode": False,
            "metadata": dict(pi["metadata"]),
            "outcome": ({"network_status": "approved_by_network", "reason": None, "risk_level": "normal",
                         "seller_message": "Payment complete.", "type": "authorized"} if ok else
                        {"network_status": "declined_by_network", "reason": card.decline_code or card.code,
                         "risk_level": "normal", "type": "issuer_declined",
                         "seller_message": "The bank did not return any further details with this decline."}),
            "paid": ok,
            "payment_intent": pi["id"],
            "payment_method": pi["payment_method"],
            "payment_method_details": {"type": "card", "card": {"brand": card.brand, "last4": card.last4,
                                                                "exp_month": 12, "exp_year": 2034}},
            "refunded": False,
            "status": status,
        }
        self._charges[ch["id"]] = ch
        return ch

    def _succeed(self, pi: dict, ctx: dict | None) -> None:
        card = TEST_PAYMENT_METHODS.get(self._pi_methods.get(pi["id"], ""), _Card("visa", "4242"))
        ch = self._new_charge(pi, card, "succeeded")
        pi.update(status="succeeded", latest_charge=ch["id"], amount_received=pi["amount"], last_payment_error=None,
                  next_action=None)
        self._counts["charges"] += 1
        self._emit("charge.succeeded", ch, ctx)
        self._emit("payment_intent.succeeded", pi, ctx)

    def _fail(self, pi: dict, card: _Card, ctx: dict | None, with_charge: bool = True) -> StripeError:
        ch = self._new_charge(pi, card, "failed") if with_charge else None
        pm_obj = self._pm_object(pi["payment_method"], card)
        type_ = "invalid_request_error" if card.code == "payment_intent_authentication_failure" else "card_error"
        err = StripeError(402, type_, card.message or _DECLINED, code=card.code,
                          decline_code=card.decline_code, param=card.param, charge=ch["id"] if ch else None)
        err.error["payment_method"] = pm_obj
        pi.update(status="requires_payment_method", last_payment_error=copy.deepcopy(err.error), next_action=None,
                  latest_charge=ch["id"] if ch else pi["latest_charge"])
        if ch:
            self._counts["failed_charges"] += 1
            self._emit("charge.failed", ch, ctx)
        self._emit("payment_intent.payment_failed", pi, ctx)
        err.error["payment_intent"] = copy.deepcopy(pi)
        return err

    def _pm_object(self, pm_id: str | None, card: _Card) -> dict:
        return {"id": pm_id, "object": "payment_method", "type": "card", "livemode": False,
                "card": {"brand": card.brand, "last4": card.last4, "exp_month": 12, "exp_year": 2034,
                         "funding": "credit", "country": "US"}}

    # --- API operations (called with the lock held) -----------------------------------------------

    def _confirm(self, pi: dict, params: dict, ctx: dict) -> None:
        alias = self._pi_methods.get(pi["id"])
        card = TEST_PAYMENT_METHODS[alias]
        apm = pi.get("automatic_payment_methods") or {}
        if apm.get("enabled") and apm.get("allow_redirects") != "never" and not params.get("return_url"):
            raise _invalid(
                "This PaymentIntent is configured to accept payment methods enabled in your Dashboard. Because "
                "some of these payment methods might redirect your customer off of your page, you must provide a "
                "`return_url`. If you don't want to accept redirect-based payment methods, set "
                "`automatic_payment_methods[enabled]` to `true` and `automatic_payment_methods[allow_redirects]` "
                "to `never` when creating Setup Intents and Payment Intents.", saved=True)
        if card.outcome == "succeed":
            self._succeed(pi, ctx)
        elif card.outcome == "decline":
            raise self._fail(pi, card, ctx)
        else:
            off = _bool(params.get("off_session")) or _bool(params.get("error_on_requires_action"))
            if off:
                raise self._fail(pi, _Card(card.brand, card.last4, "decline", "authentication_required",
                                              "authentication_required",
                                              "Your card was declined. This transaction requires authentication."),
                                 ctx)
            pi.update(status="requires_action",
                      next_action={"type": "use_stripe_sdk",
                                   "use_stripe_sdk": {"type": "three_d_secure_redirect",
                                                      "stripe_js": f"https://hooks.stripe.com/3d_secure_2/hosted"
                                                                   f"?merchant=acct_fake&payment_intent={pi['id']}",
                                                      "source": new_id("src")}})
            self._emit("payment_intent.requires_action", pi, ctx)

    def _resolve_pm(self, pi: dict, pm: str) -> None:
        if pm not in TEST_PAYMENT_METHODS:
            raise _invalid(f"No such PaymentMethod: '{pm}'", "resource_missing", "payment_method", saved=True)
        self._pi_methods[pi["id"]] = pm
        pi["payment_method"] = "pm_1Q" + _rand(22)
        pi["payment_method_types"] = ["card"]

    def op_create_pi(self, params: dict, ctx: dict) -> tuple[int, dict]:
        _unknown(params, _PI_CREATE_PARAMS)
        amount = _int_param(params, "amount", required=True)
        currency = params.get("currency")
        if currency is None:
            raise _invalid("Missing required param: currency.", "parameter_missing", "currency")
        if not isinstance(currency, str) or not re.fullmatch(r"[A-Za-z]{3}", currency):
            raise _invalid(f"Invalid currency: {currency}. Stripe currently supports these currencies: usd, eur, "
                           "gbp, jpy, …", None, "currency")
        currency = currency.lower()
        if amount < _MIN_AMOUNT.get(currency, 1):
            raise _invalid(f"Amount must be at least {_MIN_AMOUNT.get(currency, 1)} {currency}", "amount_too_small",
                           "amount")
        if amount > 99_999_999:
            raise _invalid("Amount must be no more than 99999999", "amount_too_large", "amount")
        metadata = _metadata(params)
        confirm = _bool(params.get("confirm"))
        apm = params.get("automatic_payment_methods")
        if apm is not None and not isinstance(apm, dict):
            raise _invalid("Invalid object", "parameter_invalid_string", "automatic_payment_methods")
        pm = params.get("payment_method")
        if pm is not None and not isinstance(pm, str):
            raise _invalid("Invalid string", None, "payment_method")
        if confirm and not pm:
            raise _invalid("You cannot confirm this PaymentIntent because it's missing a payment method. To confirm "
                           "the PaymentIntent with this PaymentIntent, specify a payment method.",
                           "payment_intent_unexpected_state", "payment_method")
        pi_id = new_id("pi")
        pi = {
            "id": pi_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_received": 0,
            "automatic_payment_methods": (
                {"enabled": _bool(apm.get("enabled")), "allow_redirects": apm.get("allow_redirects", "always")}
                if apm else None),
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": params.get("capture_method", "automatic"),
            "client_secret": f"{pi_id}_secret_{_rand(25)}",
            "confirmation_method": params.get("confirmation_method", "automatic"),
            "created": int(time.time()),
            "currency": currency,
            "customer": params.get("customer"),
            "description": params.get("description"),
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": metadata,
            "next_action": None,
            "payment_method": None,
            "payment_method_types": ["card"],
            "receipt_email": params.get("receipt_email"),
            "status": "requires_payment_method",
        }
        if pm:
            self._resolve_pm(pi, pm)
            pi["status"] = "requires_confirmation"
        self._pis[pi_id] = pi
        self._pi_order.append(pi_id)
        self._counts["payment_intents_created"] += 1
        self._emit("payment_intent.created", pi, ctx)
        if confirm:
            self._confirm(pi, params, ctx)
        return 200, self._expanded(pi, params)

    def op_confirm_pi(self, pi_id: str, params: dict, ctx: dict) -> tuple[int, dict]:
        _unknown(params, _PI_CONFIRM_PARAMS)
        pi = self._get_pi(pi_id)
        if pi["status"] not in ("requires_payment_method", "requires_confirmation", "requires_action"):
            raise _invalid(f"You cannot confirm this PaymentIntent because it has a status of {pi['status']}.",
                           "payment_intent_unexpected_state", saved=True)
        pm = params.get("payment_method")
        if pm:
            self._resolve_pm(pi, pm)
        elif pi["payment_method"] is None:
            raise _invalid("You cannot confirm this PaymentIntent because it's missing a payment method.",
                           "payment_intent_unexpected_state", "payment_method", saved=True)
        pi["next_action"] = None
        self._confirm(pi, params, ctx)
        return 200, self._expanded(pi, params)

    def op_cancel_pi(self, pi_id: str, params: dict, ctx: dict) -> tuple[int, dict]:
        _unknown(params, {"cancellation_reason", "expand"})
        pi = self._get_pi(pi_id)
        if pi["status"] not in _CANCELABLE:
            raise _invalid(f"You cannot cancel this PaymentIntent because it has a status of {pi['status']}. "
                           f"Only a PaymentIntent with one of the following statuses may be canceled: "
                           f"{', '.join(_CANCELABLE)}.", "payment_intent_unexpected_state", saved=True)
        pi.update(status="canceled", canceled_at=int(time.time()), next_action=None,
                  cancellation_reason=params.get("cancellation_reason"))
        self._emit("payment_intent.canceled", pi, ctx)
        return 200, self._expanded(pi, params)

    def op_refund(self, params: dict, ctx: dict) -> tuple[int, dict]:
        _unknown(params, _REFUND_PARAMS)
        amount = _int_param(params, "amount", required=False)
        if amount is not None and amount < 1:
            raise _invalid("Invalid positive integer", "parameter_invalid_integer", "amount")
        metadata = _metadata(params)
        if params.get("payment_intent"):
            pi = self._pis.get(params["payment_intent"])
            if pi is None:
                raise _invalid(f"No such payment_intent: '{params['payment_intent']}'", "resource_missing",
                               "payment_intent", saved=True)
            ch = self._charges.get(pi["latest_charge"] or "")
            if pi["status"] != "succeeded" or ch is None or ch["status"] != "succeeded":
                raise _invalid(f"This PaymentIntent ({pi['id']}) does not have a successful charge to refund.",
                               None, "payment_intent", saved=True)
        elif params.get("charge"):
            ch = self._charges.get(params["charge"])
            if ch is None:
                raise _invalid(f"No such charge: '{params['charge']}'", "resource_missing", "charge", saved=True)
            if ch["status"] != "succeeded":
                raise _invalid(f"Charge {ch['id']} has not succeeded and cannot be refunded.", None, "charge",
                               saved=True)
        else:
            raise _invalid("One of the following params should be provided for this request: payment_intent or "
                           "charge.", "parameter_missing")
        left = ch["amount"] - ch["amount_refunded"]
        if left <= 0:
            raise _invalid(f"Charge {ch['id']} has already been refunded.", "charge_already_refunded", saved=True)
        amount = left if amount is None else amount
        if amount > left:
            raise _invalid(f"Refund amount ({_money(amount, ch['currency'])}) is greater than unrefunded amount on "
                           f"charge ({_money(left, ch['currency'])})", "amount_too_large", "amount", saved=True)
        refund = {
            "id": new_id("re"),
            "object": "refund",
            "amount": amount,
            "balance_transaction": new_id("txn"),
            "charge": ch["id"],
            "created": int(time.time()),
            "currency": ch["currency"],
            "metadata": metadata,
            "payment_intent": ch["payment_intent"],
            "reason": params.get("reason"),
            "receipt_number": None,
            "source_transfer_reversal": None,
            "status": "succeeded",
            "transfer_reversal": None,
        }
        self._refunds[refund["id"]] = refund
        self._counts["refunds"] += 1
        previous = {"amount_refunded": ch["amount_refunded"], "refunded": ch["refunded"]}
        ch["amount_refunded"] += amount
        ch["refunded"] = ch["amount_refunded"] >= ch["amount"]
        self._emit("refund.created", refund, ctx)
        self._emit("charge.refunded", ch, ctx, previous)
        return 200, copy.deepcopy(refund)

    def op_search_pi(self, query: dict) -> tuple[int, dict]:
        q = query.get("query")
        if not q:
            raise _invalid("Missing required param: query.", "parameter_missing", "query")
        m = re.fullmatch(r"\s*metadata\[(['\"])(.+?)\1\]\s*:\s*(['\"])(.*?)\3\s*", q)
        if not m:
            raise _invalid("The fake supports only metadata['key']:'value' search queries.", None, "query")
        key, value = m.group(2), m.group(4)
        data = [copy.deepcopy(self._pis[i]) for i in reversed(self._pi_order)
                if self._pis[i]["metadata"].get(key) == value]
        return 200, {"object": "search_result", "data": data, "has_more": False, "next_page": None,
                     "url": "/v1/payment_intents/search"}

    def _get_pi(self, pi_id: str) -> dict:
        pi = self._pis.get(pi_id)
        if pi is None:
            raise _invalid(f"No such payment_intent: '{pi_id}'", "resource_missing", "intent", status=404, saved=True)
        return pi

    def _expanded(self, pi: dict, params: dict) -> dict:
        out = copy.deepcopy(pi)
        expand = params.get("expand") or []
        if isinstance(expand, str):
            expand = [expand]
        if "latest_charge" in expand and out["latest_charge"]:
            out["latest_charge"] = copy.deepcopy(self._charges[out["latest_charge"]])
        return out

    def _lookup(self, kind: str, obj_id: str) -> dict:
        table = {"charge": self._charges, "refund": self._refunds}.get(kind)
        if kind == "event":
            found = next((e for e in self._events if e["id"] == obj_id), None)
        else:
            found = table.get(obj_id)
        if found is None:
            raise _invalid(f"No such {kind}: '{obj_id}'", "resource_missing", "id", status=404)
        return copy.deepcopy(found)

    # --- request dispatch -----------------------------------------------------------------------

    def route(self, method: str, path: str, params: dict, query: dict, ctx: dict) -> tuple[int, dict]:
        with self._lock:
            parts = path.strip("/").split("/")
            if method == "POST" and parts == ["v1", "payment_intents"]:
                return self.op_create_pi(params, ctx)
            if method == "GET" and parts == ["v1", "payment_intents", "search"]:
                return self.op_search_pi(query)
            if len(parts) == 3 and parts[:2] == ["v1", "payment_intents"] and method == "GET":
                return 200, self._expanded(self._get_pi(parts[2]), query)
            if len(parts) == 4 and parts[:2] == ["v1", "payment_intents"] and method == "POST":
                if parts[3] == "confirm":
                    return self.op_confirm_pi(parts[2], params, ctx)
                if parts[3] == "cancel":
                    return self.op_cancel_pi(parts[2], params, ctx)
            if method == "POST" and parts == ["v1", "refunds"]:
                return self.op_refund(params, ctx)
            if method == "GET" and len(parts) == 3 and parts[0] == "v1" and parts[1] in ("charges", "refunds",
                                                                                         "events"):
                return 200, self._lookup(parts[1][:-1], parts[2])
        raise _invalid(f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can "
                       "help at https://support.stripe.com/.", status=404)

    def _check_auth(self, header: str | None) -> str:
        if not header:
            raise StripeError(401, "invalid_request_error",
                              "You did not provide an API key. You need to provide your API key in the Authorization "
                              "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
                              "https://stripe.com/docs/api#authentication for details, or we can help at "
                              "https://support.stripe.com/.", saved=False)
        scheme, _, key = header.partition(" ")
        key = key.strip()
        with self._lock:
            ok = scheme == "Bearer" and key in self._api_keys
        if not ok:
            shown = (key[:8] + "*" * max(0, len(key) - 12) + key[-4:]) if len(key) > 12 else key
            raise StripeError(401, "invalid_request_error", f"Invalid API Key provided: {shown}", saved=False)
        return key

    def _record(self, entry: dict) -> None:
        with self._lock:
            self._log.append(entry)




class _Handler(FakeHandler):
    fake: FakeStripe

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _handle(self, method: str) -> None:
        fake = self.fake
        split = urllib.parse.urlsplit(self.path)
        path = split.path
        raw = self._read_body()
        request_id = "req_" + _rand(14)
        idem_key = self.headers.get("Idempotency-Key")
        version = self.headers.get("Stripe-Version")
        entry = {"method": method, "path": path, "query": split.query,
                 "headers": {k.lower(): v for k, v in self.headers.items()}, "body": raw, "params": None,
                 "status": None, "idempotency_key": idem_key, "stripe_version": version, "replayed": False,
                 "fault": None, "request_id": request_id, "at": time.time()}
        try:
            fault = fake._take(fake._faults, method, path)
            delay = fake._take(fake._delays, method, path)
            self._pre_delay = delay.seconds if delay and not delay.after_work else 0.0
            if fault:
                entry["fault"] = fault.mode
                if fault.mode == "drop_before":
                    fake._record(entry)
                    self._drop()
                    return
                if fault.mode in ("503", "500", "429"):
                    if fault.mode == "429":
                        err = StripeError(429, "invalid_request_error",
                                          "Request rate limit exceeded. Learn more about rate limits here "
                                          "https://stripe.com/docs/rate-limits.", code="rate_limit")
                    else:
                        err = StripeError(int(fault.mode), "api_error",
                                          "An unknown error occurred on Stripe's end. Please try again.")
                    self._send(int(fault.mode), _dumps(err.body()), request_id, version, idem_key, entry)
                    return
            status, body, replayed = self._process(method, path, split.query, raw, request_id, idem_key, version,
                                                   entry)
            if delay and delay.after_work:
                time.sleep(delay.seconds)
            if fault and fault.mode == "drop_after_charge":
                entry["status"] = None
                fake._record(entry)
                self._drop()
                return
            self._send(status, body, request_id, version, idem_key, entry, replayed)
        except Exception as exc:  # noqa: BLE001 (the fake must answer, never crash a handler thread)
            err = StripeError(500, "api_error", f"fake Stripe bug: {type(exc).__name__}: {exc}")
            self._send(500, _dumps(err.body()), request_id, version, idem_key, entry)

    def _process(self, method, path, query_text, raw, request_id, idem_key, version, entry):
        fake = self.fake
        try:
            api_key = fake._check_auth(self.headers.get("Authorization"))
            if version is not None and not re.fullmatch(r"\d{4}-\d{2}-\d{2}(\.[a-z]+)?", version):
                raise _invalid(f"Invalid Stripe API version: {version}")
            ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if raw and ctype != "application/x-www-form-urlencoded":
                raise _invalid(f"Invalid request: unsupported Content-Type {ctype or '(none)'}. If error persists "
                               "and you need assistance, please contact support@stripe.com.")
            try:
                params = parse_form(raw.decode("utf-8"))
                query = parse_form(query_text)
            except (FormError, UnicodeDecodeError) as exc:
                raise _invalid(f"Invalid request: {exc}") from None
            entry["params"] = params
        except StripeError as err:
            return err.status, _dumps(err.body()), False

        ctx = {"request_id": request_id, "idempotency_key": idem_key}
        if method != "POST" or not idem_key:
            return self._run(method, path, params, query, ctx)[:2] + (False,)

        scope = (api_key, idem_key)
        fingerprint = (method, path, _canonical(params))
        while True:
            with fake._lock:
                rec = fake._idem.get(scope)
                if rec is None:
                    rec = _IdemRecord(fingerprint)
                    fake._idem[scope] = rec
                    break
            if rec.fingerprint != fingerprint:
                err = StripeError(400, "idempotency_error",
                                  "Keys for idempotent requests can only be used with the same parameters they were "
                                  f"first used with. Try using a key other than '{idem_key}' if you meant to execute "
                                  "a different request.")
                return 400, _dumps(err.body()), False
            if rec.done.is_set():
                return rec.status, rec.body, True
            if fake.idempotency_in_progress == "409":
                err = StripeError(409, "invalid_request_error",
                                  "There is currently another in-progress request using this Idempotent Key "
                                  "(that probably means you submitted twice, and the other request is still going "
                                  "through): " + idem_key + ". Please try again later.",
                                  code="idempotency_key_in_use")
                return 409, _dumps(err.body()), False
            rec.done.wait(30)
        status, body, saved = self._run(method, path, params, query, ctx)
        with fake._lock:
            if saved:
                rec.status, rec.body, rec.saved = status, body, True
                rec.done.set()
            else:
                del fake._idem[scope]
                rec.done.set()  # waiters loop and claim it anew
        return status, body, False

    def _run(self, method, path, params, query, ctx) -> tuple[int, bytes, bool]:
        if self._pre_delay:  # a slow Stripe: the idempotency key (if any) is held meanwhile
            time.sleep(self._pre_delay)
        try:
            status, obj = self.fake.route(method, path, params, query, ctx)
            return status, _dumps(obj), True
        except StripeError as err:
            return err.status, _dumps(err.body()), err.saved

    def _send(self, status, body: bytes, request_id, version, idem_key, entry, replayed=False) -> None:
        fake = self.fake
        entry["status"] = status
        entry["replayed"] = replayed
        fake._record(entry)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Request-Id", request_id)
        self.send_header("Stripe-Version", version or fake.api_version)
        self.send_header("Cache-Control", "no-cache, no-store")
        if status == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="Stripe"')
        if idem_key and entry["method"] == "POST":
            self.send_header("Idempotency-Key", idem_key)
        if replayed:
            self.send_header("Idempotent-Replayed", "true")
        if status == 429:
            self.send_header("Retry-After", "1")
        self._headers_buffer.append(b"\r\n" + body)  # head and body in one write
        self.flush_headers()


# --- helpers ------------------------------------------------------------------------------------

def _dumps(obj) -> bytes:
    return (json.dumps(obj, indent=2) + "\n").encode("utf-8")


def _canonical(value):
    if isinstance(value, dict):
        return tuple(sorted((k, _canonical(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("__list__",) + tuple(_canonical(v) for v in value)
    return value


def _bool(value) -> bool:
    return value in (True, "true", "True", "1")


def _unknown(params: dict, allowed: set[str]) -> None:
    for name in params:
        if name not in allowed:
            raise _invalid(f"Received unknown parameter: {name}", "parameter_unknown", name)


def _int_param(params: dict, name: str, required: bool) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise _invalid(f"Missing required param: {name}.", "parameter_missing", name)
        return None
    if not isinstance(value, str) or not re.fullmatch(r"-?\d+", value):
        raise _invalid(f"Invalid integer: {value}", "parameter_invalid_integer", name)
    return int(value)


def _metadata(params: dict) -> dict:
    md = params.get("metadata")
    if md is None or md == "":
        return {}
    if not isinstance(md, dict):
        raise _invalid("Invalid object", None, "metadata")
    if len(md) > 50:
        raise _invalid("Metadata can have at most 50 keys.", None, "metadata")
    out = {}
    for k, v in md.items():
        if len(k) > 40:
            raise _invalid(f"Metadata key too long: {k}", None, f"metadata[{k}]")
        if not isinstance(v, str):
            raise _invalid("Invalid string", None, f"metadata[{k}]")
        if len(v) > 500:
            raise _invalid(f"Metadata values can have up to 500 characters, but you passed in a value that is "
                           f"{len(v)} characters.", None, f"metadata[{k}]")
        if v != "":  # an empty value unsets the key, as in Stripe
            out[k] = v
    return out


def _money(minor: int, currency: str) -> str:
    return f"${minor / 100:.2f}" if currency == "usd" else f"{minor} {currency}"


def _tamper_one_byte(body: bytes, event_id: str) -> bytes:
    marker = f'"{event_id}"'.encode("utf-8")
    i = body.find(marker)
    if event_id and i >= 0:
        pos = i + len(marker) - 2  # the id's last character
    else:
        pos = len(body) // 2
    old = body[pos:pos + 1]
    new = b"X" if old != b"X" else b"Y"
    return body[:pos] + new + body[pos + 1:]
