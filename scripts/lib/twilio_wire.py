"""Twilio's Programmable Messaging REST API (2010-04-01), the part notification-service speaks: the
wire protocol shared by the test fake (tests/functional/support/fake_twilio.py) and the local SMS sink
(scripts/sms-sink). Standard library only, no HTTP server here: `TwilioApi.handle()` takes a request
and returns the answer, so each server adds what it needs around it (faults, persistence, a page).

What it answers, as Twilio does:
- POST /2010-04-01/Accounts/{AccountSid}/Messages.json, form-encoded `To`, `From` (or
  `MessagingServiceSid`), `Body`; HTTP Basic auth `AccountSid:AuthToken`. 201 with the Message
  resource: sid "SM" + 32 hex, status "queued", direction "outbound-api", num_segments (a string,
  GSM-7 160/153 or UCS-2 70/67 per segment), date_created/date_updated in RFC 2822, price null,
  error_code/error_message null, uri.
- GET .../Messages/{MessageSid}.json (one message) and GET .../Messages.json (newest first, `To`,
  `From`, `PageSize`, `Page`), {"messages": [...], "page", "page_size", "uri", ...}.
- Errors are JSON {"code", "message", "more_info", "status"}: 401 20003 (bad or missing credentials,
  with `WWW-Authenticate: Basic realm="Twilio API"`), 404 20404 (another account's path, an unknown
  message or route), 400 21604 (no To), 21211 (To not E.164), 21603 (no From), 21606 (a From that is not
  this account's number), 21602 (no Body), 21617 (Body over 1600 characters), 405 20004 (method).
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import hmac
import json
import re
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

API_VERSION = "2010-04-01"
MAX_BODY = 1600
E164 = re.compile(r"^\+[1-9]\d{1,14}$")
ACCOUNT_SID = re.compile(r"^AC[0-9a-f]{32}$")
MESSAGING_SERVICE_SID = re.compile(r"^MG[0-9a-f]{32}$")
# GSM 03.38 basic character set and its extension table (the extension characters take two septets).
GSM7_BASIC = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
                 "¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXTENDED = set("^{}\\[~]|€\f")

_MESSAGES = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages\.json$")
_MESSAGE = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages/([^/]+)\.json$")


def new_account_sid() -> str:
    return "AC" + secrets.token_hex(16)


def new_message_sid() -> str:
    return "SM" + secrets.token_hex(16)


def rfc2822(t: float | None = None) -> str:
    """Twilio's date format: `Thu, 24 Aug 2023 05:01:45 +0000`."""
    return email.utils.formatdate(time.time() if t is None else t, usegmt=False).replace("-0000", "+0000")


def num_segments(body: str) -> int:
    """SMS segments for `body`: GSM-7 (160 septets, 153 per part when concatenated) when every character
    is in the GSM alphabet, otherwise UCS-2 (70 UTF-16 units, 67 per part)."""
    if all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in body):
        units = sum(2 if c in GSM7_EXTENDED else 1 for c in body)
        single, part = 160, 153
    else:
        units = len(body.encode("utf-16-le")) // 2
        single, part = 70, 67
    if units <= single:
        return 1
    return -(-units // part)


class TwilioError(Exception):
    """A Twilio REST error: `status` and the JSON body {"code", "message", "more_info", "status"}."""

    def __init__(self, status: int, code: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def body(self) -> dict:
        return {"code": self.code, "message": self.message,
                "more_info": f"https://www.twilio.com/docs/errors/{self.code}", "status": self.status}


def error_json(status: int, code: int, message: str) -> bytes:
    return dumps(TwilioError(status, code, message).body())


def dumps(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    message: dict | None = None     # the Message a POST created (None otherwise)
    error: dict | None = None       # the error body, when status >= 400

    @property
    def content_type(self) -> str:
        return "application/json; charset=utf-8"


def parse_basic_auth(header: str | None) -> tuple[str, str] | None:
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def parse_form(body: bytes, content_type: str | None) -> dict[str, str]:
    """Form fields (the last value of a repeated name wins, as Twilio reads scalar parameters). A body
    that is not form-encoded carries no parameters."""
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded" or not body:
        return {}
    try:
        pairs = urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise TwilioError(400, 20001, "Invalid request: the body is not UTF-8") from None
    return {k: v for k, v in pairs}


class TwilioApi:
    """One Twilio account's Messages resource, in memory. Thread-safe.

    `phone_numbers`: the account's numbers a `From` may use (None: any E.164 number or alphanumeric
    sender ID). `on_message(message)` is called (under the lock) for every message created."""

    def __init__(self, account_sid: str, auth_token: str, phone_numbers=None, on_message=None):
        if not ACCOUNT_SID.match(account_sid):
            raise ValueError(f"an account SID is AC followed by 32 lowercase hex digits, not {account_sid!r}")
        if not auth_token:
            raise ValueError("the auth token is empty")
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.phone_numbers = None if phone_numbers is None else set(phone_numbers)
        self.on_message = on_message
        self.lock = threading.RLock()
        self._messages: list[dict] = []   # oldest first
        self._by_sid: dict[str, dict] = {}

    # --- state ----------------------------------------------------------------------------------

    def messages(self) -> list[dict]:
        """Created messages, oldest first (copies)."""
        with self.lock:
            return [dict(m) for m in self._messages]

    def load(self, messages) -> None:
        """Adds messages recorded earlier (e.g. read back from a store), without calling on_message."""
        with self.lock:
            for m in messages:
                if m.get("sid") and m["sid"] not in self._by_sid:
                    self._messages.append(m)
                    self._by_sid[m["sid"]] = m

    def clear(self) -> None:
        with self.lock:
            self._messages.clear()
            self._by_sid.clear()

    # --- the protocol ---------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers, body: bytes = b"") -> Response:
        """Answers one request. `target` is the request target (path and query), `headers` anything
        with a case-insensitive .get() (http.server's message) or a dict."""
        split = urllib.parse.urlsplit(target)
        path, query = split.path, split.query
        try:
            if not (_MESSAGES.match(path) or _MESSAGE.match(path)):
                raise TwilioError(404, 20404, f"The requested resource {path} was not found")
            self._authenticate(_header(headers, "Authorization"))
            m = _MESSAGES.match(path)
            if m:
                self._account(m.group(1), path)
                if method == "POST":
                    return self._create(parse_form(body, _header(headers, "Content-Type")))
                if method == "GET":
                    return self._list(path, urllib.parse.parse_qs(query))
                raise TwilioError(405, 20004, "Method not allowed")
            m = _MESSAGE.match(path)
            self._account(m.group(1), path)
            if method != "GET":
                raise TwilioError(405, 20004, "Method not allowed")
            with self.lock:
                msg = self._by_sid.get(m.group(2))
                if msg is None:
                    raise TwilioError(404, 20404, f"The requested resource {path} was not found")
                return Response(200, dumps(msg))
        except TwilioError as err:
            return Response(err.status, dumps(err.body()), err.headers, error=err.body())

    def _authenticate(self, header: str | None) -> None:
        creds = parse_basic_auth(header)
        ok = creds is not None and hmac.compare_digest(creds[0].encode(), self.account_sid.encode()) \
            and hmac.compare_digest(creds[1].encode(), self.auth_token.encode())
        if not ok:
            raise TwilioError(401, 20003, "Authenticate", {"WWW-Authenticate": 'Basic realm="Twilio API"'})

    def _account(self, sid: str, path: str) -> None:
        if sid != self.account_sid:
            raise TwilioError(404, 20404, f"The requested resource {path} was not found")

    def _create(self, form: dict[str, str]) -> Response:
        to = form.get("To", "").strip()
        from_ = form.get("From", "").strip()
        service = form.get("MessagingServiceSid", "").strip()
        body = form.get("Body", "")
        if not to:
            raise TwilioError(400, 21604, "A 'To' phone number is required.")
        if not E164.match(to):
            raise TwilioError(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if not from_ and not service:
            raise TwilioError(400, 21603, "A 'From' phone number is required.")
        if service and not MESSAGING_SERVICE_SID.match(service):
            raise TwilioError(404, 20404, f"The requested resource MessagingService {service} was not found")
        if from_ and not self._from_ok(from_):
            raise TwilioError(400, 21606, f"The From phone number {from_} is not a valid, SMS-capable inbound "
                                          "phone number or short code for your account.")
        if not body.strip() and not form.get("MediaUrl"):
            raise TwilioError(400, 21602, "Message body is required.")
        if len(body) > MAX_BODY:
            raise TwilioError(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        sid = new_message_sid()
        now = rfc2822()
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}"
        msg = {
            "account_sid": self.account_sid, "api_version": API_VERSION, "body": body,
            "date_created": now, "date_sent": None, "date_updated": now, "direction": "outbound-api",
            "error_code": None, "error_message": None, "from": from_ or None,
            "messaging_service_sid": service or None, "num_media": "0",
            "num_segments": str(num_segments(body)) if from_ else "0",
            "price": None, "price_unit": "USD", "sid": sid, "status": "queued" if from_ else "accepted",
            "subresource_uris": {"media": f"{base}/Media.json"}, "to": to, "uri": f"{base}.json",
        }
        with self.lock:
            self._messages.append(msg)
            self._by_sid[sid] = msg
            if self.on_message is not None:
                self.on_message(dict(msg))
        return Response(201, dumps(msg), message=dict(msg))

    def _from_ok(self, from_: str) -> bool:
        if self.phone_numbers is not None:
            return from_ in self.phone_numbers
        # Any number, or an alphanumeric sender ID (1-11 characters, at least one letter).
        return bool(E164.match(from_) or re.fullmatch(r"(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}", from_))

    def _list(self, path: str, query: dict[str, list[str]]) -> Response:
        def one(name: str) -> str | None:
            values = query.get(name)
            return values[-1] if values else None

        try:
            page_size = max(1, min(1000, int(one("PageSize") or 50)))
            page = max(0, int(one("Page") or 0))
        except ValueError:
            raise TwilioError(400, 20001, "Invalid paging parameters") from None
        with self.lock:
            found = [dict(m) for m in reversed(self._messages)
                     if (one("To") is None or m["to"] == one("To"))
                     and (one("From") is None or m["from"] == one("From"))]
        chunk = found[page * page_size:(page + 1) * page_size]
        uri = f"{path}?PageSize={page_size}&Page={page}"
        more = (page + 1) * page_size < len(found)
        return Response(200, dumps({
            "messages": chunk, "page": page, "page_size": page_size, "start": page * page_size,
            "end": page * page_size + max(0, len(chunk) - 1), "uri": uri,
            "first_page_uri": f"{path}?PageSize={page_size}&Page=0",
            "next_page_uri": f"{path}?PageSize={page_size}&Page={page + 1}" if more else None,
            "previous_page_uri": f"{path}?PageSize={page_size}&Page={page - 1}" if page > 0 else None,
        }))


def _header(headers, name: str) -> str | None:
    if headers is None:
        return None
    value = headers.get(name)
    if value is None and isinstance(headers, dict):
        lowered = {k.lower(): v for k, v in headers.items()}
        value = lowered.get(name.lower())
    return value
