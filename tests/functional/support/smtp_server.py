"""A real SMTP server for notification-service's functional tests (DESIGN §12), built on Debian's
aiosmtpd (python3-aiosmtpd 1.4). It accepts mail over a real socket, parses every message with the
`email` package and lets a test inject the failures an SMTP relay really gives.

    with SmtpServer() as smtp:
        env["SMTP_URL"] = smtp.url                       # smtp://127.0.0.1:PORT
        ...
        [msg] = smtp.wait_for(1, timeout=10)
        assert msg.subject == "Your order is confirmed" and "Total" in msg.text

    with SmtpServer(auth=("shop@localhost", "secret"), starttls=True, require_starttls=True) as smtp:
        env["SMTP_CA_FILE"] = smtp.ca_file               # PEM the client trusts for STARTTLS

What it speaks: ESMTP on 127.0.0.1 (a free port), SMTPUTF8 and 8BITMIME; with `auth`, AUTH PLAIN and
LOGIN are offered and required (535 5.7.8 for wrong credentials, 530 5.7.0 for MAIL before AUTH);
with `starttls`, a CA and a server certificate for 127.0.0.1/localhost are generated into a temporary
directory and STARTTLS is offered (`require_starttls`: 530 for anything but EHLO/NOOP/QUIT/STARTTLS
before it).

Faults for tests (thread-safe, may change while a client is connected):
- refuse(code, text, times, stage): the next `times` transactions (None: until accept()) get
  `code text` at MAIL FROM, RCPT TO (every recipient of the transaction) or DATA (after the data was
  received, as a relay that fails to queue). 4xx is a temporary failure, 5xx a permanent one.
- delay(seconds): DATA is answered only after `seconds`. A client that gives up or dies meanwhile
  never receives the 250, and the message is not recorded (`attempts` counts it).
Counters: `attempts` (transactions that reached DATA or a refused stage), `refused`, `accepted`.
"""

from __future__ import annotations

import asyncio
import datetime
import email
import email.policy
import ipaddress
import logging
import shutil
import socket
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

STAGES = ("MAIL", "RCPT", "DATA")

# aiosmtpd 1.4 logs a deprecation notice about its own use of Session.login_data on every AUTH.
logging.getLogger("mail.log").addFilter(
    lambda record: not str(record.msg).startswith("Session.login_data is deprecated"))


@dataclass
class ReceivedMessage:
    """One accepted message: the envelope as the client gave it and the parsed headers and bodies.
    Fields read as attributes or as keys (`msg.subject` or `msg["subject"]`)."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    from_: str | None = None
    to: str | None = None
    subject: str | None = None
    message_id: str | None = None
    content_type: str = ""
    text: str | None = None
    html: str | None = None
    login: str | None = None       # the AUTH login, when the session authenticated
    tls: bool = False              # the session had switched to TLS (STARTTLS) before MAIL
    received_at: float = field(default_factory=time.time)

    def __getitem__(self, key: str):
        return getattr(self, "from_" if key == "from" else key)

    def get(self, key: str, default=None):
        try:
            return self[key]
        except AttributeError:
            return default

    @property
    def message(self) -> email.message.EmailMessage:
        """The whole parsed message (for headers the fields above do not cover)."""
        return email.message_from_bytes(self.raw, policy=email.policy.default)


def parse_message(mail_from: str, rcpt_tos: list[str], raw: bytes, login: str | None = None,
                  tls: bool = False) -> ReceivedMessage:
    """Parses `raw` with policy=email.policy.default: encoded-word subjects are decoded, the text/plain
    and text/html parts (of multipart/alternative or mixed) are decoded to str."""
    # On the wire lines end in CRLF; the parsed text and HTML read with "\n" as Python strings do.
    msg = email.message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=email.policy.default)

    def header(name: str) -> str | None:
        value = msg.get(name)
        return None if value is None else str(value)

    text_part = msg.get_body(preferencelist=("plain",))
    html_part = msg.get_body(preferencelist=("html",))
    return ReceivedMessage(
        mail_from=mail_from, rcpt_tos=list(rcpt_tos), raw=raw,
        from_=header("From"), to=header("To"), subject=header("Subject"), message_id=header("Message-ID"),
        content_type=msg.get_content_type(),
        text=text_part.get_content() if text_part is not None else None,
        html=html_part.get_content() if html_part is not None else None,
        login=login, tls=tls)


@dataclass
class _Refusal:
    code: int
    text: str
    stage: str
    remaining: int | None  # None: until accept()


class _Handler:
    """aiosmtpd handler hooks; all state lives in the SmtpServer (under its lock)."""

    def __init__(self, owner: "SmtpServer"):
        self.owner = owner

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802
        if self.owner.auth is not None and not session.authenticated:
            # Enforced here rather than with aiosmtpd's auth_required, which warns on every
            # connection when TLS is not required too.
            return "530 5.7.0 Authentication required"
        reply = self.owner._refusal_for("MAIL", envelope)
        if reply:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        reply = self.owner._refusal_for("RCPT", envelope)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        owner = self.owner
        reply = owner._refusal_for("DATA", envelope)
        if reply:
            return reply
        with owner._lock:
            owner._attempts += 1
            delay = owner._delay
        if delay > 0:
            await asyncio.sleep(delay)  # cancelled when the client disconnects meanwhile: nothing recorded
        login = None
        if session.authenticated and isinstance(session.auth_data, LoginPassword):
            login = session.auth_data.login.decode("utf-8", "replace")
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        try:
            msg = parse_message(envelope.mail_from, envelope.rcpt_tos, raw, login, session.ssl is not None)
        except Exception as exc:  # noqa: BLE001 (a message the parser cannot read is a test failure, not a crash)
            with owner._lock:
                owner._errors.append(f"unparseable message from {envelope.mail_from}: {exc!r}")
            return "554 5.6.0 message could not be parsed by the test server"
        with owner._cond:
            owner._messages.append(msg)
            owner._cond.notify_all()
        return "250 2.0.0 Ok: queued"


class _Controller(Controller):
    """aiosmtpd's threaded controller, bound to a socket we open ourselves (port 0 = a free port
    chosen by the kernel, known before the server starts)."""

    def __init__(self, handler, sock: socket.socket, **kwargs):
        host, port = sock.getsockname()[:2]
        super().__init__(handler, hostname=host, port=port, **kwargs)
        self._sock = sock

    def _create_server(self):
        return self.loop.create_server(self._factory_invoker, sock=self._sock, ssl=self.ssl_context)


class SmtpServer:
    """An SMTP server on 127.0.0.1 (a free port) for the duration of a `with` block (or start()/stop())."""

    def __init__(self, *, auth: tuple[str, str] | None = None, starttls: bool = False,
                 require_starttls: bool = False, host: str = "127.0.0.1", port: int = 0,
                 hostname: str = "smtp.test.local", data_size_limit: int = 10 * 1024 * 1024):
        if require_starttls and not starttls:
            raise ValueError("require_starttls needs starttls=True")
        self.auth = auth
        self.starttls = starttls
        self.require_starttls = require_starttls
        self.hostname = hostname
        self.data_size_limit = data_size_limit
        self._host, self._port = host, port
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._messages: list[ReceivedMessage] = []
        self._refusal: _Refusal | None = None
        self._delay = 0.0
        self._attempts = 0
        self._refused = 0
        self._logins: list[str] = []
        self._failed_logins: list[str] = []
        self._errors: list[str] = []
        self._controller: _Controller | None = None
        self._tmpdir: str | None = None
        self._tls_context: ssl.SSLContext | None = None
        self.ca_file: str | None = None
        self.cert_file: str | None = None
        self.key_file: str | None = None

    # --- life cycle -----------------------------------------------------------------------------

    def __enter__(self) -> "SmtpServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> "SmtpServer":
        """Starts listening. After stop(), start() again listens on the same port with the same state."""
        if self._controller is not None:
            return self
        if self.starttls and self._tls_context is None:
            self._make_certificates()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self._host, self._port))
        except OSError:
            sock.close()
            raise
        self._port = sock.getsockname()[1]
        kwargs = {"server_hostname": self.hostname, "data_size_limit": self.data_size_limit,
                  "enable_SMTPUTF8": True, "decode_data": False, "ident": "Emporium test SMTP"}
        if self.auth is not None:
            kwargs.update(authenticator=self._authenticate, auth_require_tls=False)
        if self._tls_context is not None:
            kwargs.update(tls_context=self._tls_context, require_starttls=self.require_starttls)
        controller = _Controller(_Handler(self), sock, **kwargs)
        try:
            controller.start()
        except BaseException:
            sock.close()
            raise
        self._controller = controller
        return self

    def stop(self) -> None:
        """Stops listening (connections are refused until start()); the recorded state stays. Leaving
        the `with` block also removes the generated certificates."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def close(self) -> None:
        """stop() and remove the generated certificates (what leaving the `with` block does)."""
        self.stop()
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    @property
    def port(self) -> int:
        assert self._port, "never started"
        return self._port

    @property
    def host(self) -> str:
        return self._host

    @property
    def url(self) -> str:
        """SMTP_URL for the service: smtp://127.0.0.1:PORT"""
        return f"smtp://{self._host}:{self.port}"

    # --- what was received ------------------------------------------------------------------------

    def messages(self) -> list[ReceivedMessage]:
        with self._lock:
            return list(self._messages)

    def wait_for(self, count: int = 1, timeout: float = 10.0) -> list[ReceivedMessage]:
        """Waits until at least `count` messages were accepted and returns all of them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    got = [f"  {m.mail_from} -> {m.rcpt_tos}: {m.subject!r}" for m in self._messages]
                    raise AssertionError(
                        f"SMTP server {self.url}: expected at least {count} message(s) within {timeout}s, got "
                        f"{len(self._messages)} (attempts={self._attempts}, refused={self._refused}, "
                        f"refusal={self._refusal}, failed logins={self._failed_logins}, errors={self._errors})"
                        + ("\n" + "\n".join(got) if got else ""))
                self._cond.wait(left)
            return list(self._messages)

    def clear(self) -> None:
        """Forgets the received messages and resets the counters (faults stay)."""
        with self._lock:
            self._messages.clear()
            self._attempts = self._refused = 0
            self._logins.clear()
            self._failed_logins.clear()
            self._errors.clear()

    @property
    def attempts(self) -> int:
        """Transactions that reached DATA, or the refused stage while a refusal was active."""
        with self._lock:
            return self._attempts

    @property
    def refused(self) -> int:
        with self._lock:
            return self._refused

    @property
    def accepted(self) -> int:
        with self._lock:
            return len(self._messages)

    @property
    def logins(self) -> list[str]:
        """Logins that authenticated successfully, in order."""
        with self._lock:
            return list(self._logins)

    @property
    def failed_logins(self) -> list[str]:
        with self._lock:
            return list(self._failed_logins)

    @property
    def errors(self) -> list[str]:
        with self._lock:
            return list(self._errors)

    # --- fault injection ----------------------------------------------------------------------------

    def refuse(self, code: int = 451, text: str = "4.3.0 try again later", times: int | None = None,
               stage: str = "DATA") -> None:
        """The next `times` transactions (None: every one until accept()) are answered `code text` at
        `stage` ("MAIL", "RCPT" or "DATA")."""
        stage = stage.upper()
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}")
        if not 400 <= int(code) <= 599:
            raise ValueError("a refusal is a 4xx or 5xx reply")
        if times is not None and times <= 0:
            self.accept()
            return
        with self._lock:
            self._refusal = _Refusal(int(code), text, stage, times)

    def accept(self) -> None:
        """Clears refuse(): every transaction is accepted again (a delay() stays until delay(0))."""
        with self._lock:
            self._refusal = None

    def delay(self, seconds: float) -> None:
        """DATA is answered after `seconds` (0 clears it)."""
        with self._lock:
            self._delay = max(0.0, float(seconds))

    def _refusal_for(self, stage: str, envelope) -> str | None:
        """The reply when this transaction is refused at `stage`. A transaction is counted once; every
        recipient of a transaction refused at RCPT gets the refusal."""
        with self._lock:
            if stage == "MAIL":  # a new transaction, even on an envelope a refused MAIL left (no RSET)
                envelope._emporium_refusal = None
            decided = getattr(envelope, "_emporium_refusal", None)
            if decided is not None:
                return decided if stage == "RCPT" else None
            rule = self._refusal
            if rule is None or rule.stage != stage:
                return None
            reply = f"{rule.code} {rule.text}"
            envelope._emporium_refusal = reply
            self._attempts += 1
            self._refused += 1
            if rule.remaining is not None:
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self._refusal = None
            return reply

    # --- AUTH and TLS -----------------------------------------------------------------------------

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if not isinstance(auth_data, LoginPassword) or self.auth is None:
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        ok = (login, password) == tuple(self.auth)
        with self._lock:
            (self._logins if ok else self._failed_logins).append(login)
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    def _make_certificates(self) -> None:
        """A throwaway CA and a server certificate it signed for 127.0.0.1 and localhost (P-256)."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        now = datetime.datetime.now(datetime.timezone.utc)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Emporium test SMTP CA")])
        ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
        ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
              .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
              .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
              .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                           data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                           crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
              .add_extension(ca_ski, critical=False)
              .sign(ca_key, hashes.SHA256()))
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
                .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                            x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                               critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=True, key_cert_sign=False,
                                             crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
                .sign(ca_key, hashes.SHA256()))
        self._tmpdir = tempfile.mkdtemp(prefix="emporium-smtp-tls-")
        d = Path(self._tmpdir)
        (d / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        (d / "server.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (d / "server.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                         serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
        self.ca_file, self.cert_file, self.key_file = str(d / "ca.pem"), str(d / "server.pem"), str(d / "server.key")
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert_file, self.key_file)
        self._tls_context = ctx


__all__ = ["SmtpServer", "ReceivedMessage", "parse_message", "STAGES"]
