#!/usr/bin/env python3
"""Renders the Emporium nginx gateway config (DESIGN §9) from gateway/nginx.conf.template.

    render.py --listen 127.0.0.1:8080 --prefix var/gateway --out var/gateway/nginx.conf \
        --upstream users=127.0.0.1:5000,127.0.0.1:5100 [--upstream products=...] \
        [--cors-origins https://shop.example,http://localhost:3000] [--user NAME] \
        [--workers auto|N] [--access-log FILE] [--proxy-read-timeout SECONDS] [--check]

Every one of the six base paths gets a location; a service given no instances (not named, or
`--upstream orders=`) answers 503 problem+json. Python standard library only.
"""

from __future__ import annotations

import argparse
import grp
import json
import os
import pwd
import re
import subprocess
import sys
from pathlib import Path

TEMPLATE = Path(__file__).resolve().with_name("nginx.conf.template")

# Upstream name -> public base path (API.md).
SERVICES: dict[str, str] = {
    "users": "/api/users",
    "products": "/api/products",
    "cart": "/api/cart",
    "orders": "/api/orders",
    "payments": "/api/payments",
    "notification": "/api/notification",
}

# The gateway's own answers, shaped like the services' problem documents: every status nginx can
# answer with itself. status -> (title, code, detail). 401 and 403 need auth or access modules the
# gateway does not use, 408 is logged but never sent (nginx closes the connection), 416 and 412
# do not apply to proxied answers: they are here so that adding such a module cannot bring HTML back.
PROBLEMS: dict[int, tuple[str, str, str]] = {
    400: ("Bad Request", "bad_request",
          "The request could not be read: check the request line (method, an absolute path with "
          "valid %-escapes, HTTP/1.x) and the headers"),
    401: ("Unauthorized", "unauthorized", "Authentication required"),
    403: ("Forbidden", "forbidden", "You are not allowed to do this"),
    404: ("Not Found", "not_found", "Not found"),
    405: ("Method Not Allowed", "method_not_allowed", "Method not allowed"),
    408: ("Request Timeout", "request_timeout", "The request was not received in time"),
    411: ("Length Required", "length_required", "Send a Content-Length (or a chunked body)"),
    412: ("Precondition Failed", "precondition_failed", "A precondition of the request failed"),
    413: ("Content Too Large", "payload_too_large", "Request body is larger than 1 MiB"),
    414: ("URI Too Long", "uri_too_long", "Request URI is too long: the limit is 8 KiB"),
    416: ("Range Not Satisfiable", "range_not_satisfiable", "The requested range cannot be served"),
    429: ("Too Many Requests", "too_many_requests", "Too many requests"),
    431: ("Request Header Fields Too Large", "request_header_fields_too_large",
          "Request headers are too large: each header line is limited to 8 KiB"),
    500: ("Internal Server Error", "internal", "Internal error"),
    501: ("Not Implemented", "not_implemented",
          "The request uses a feature the gateway does not support (e.g. a Transfer-Encoding "
          "other than chunked)"),
    502: ("Bad Gateway", "bad_gateway", "The service did not answer"),
    503: ("Service Unavailable", "service_unavailable", "The service is unavailable"),
    504: ("Gateway Timeout", "gateway_timeout", "The service did not answer in time"),
    505: ("HTTP Version Not Supported", "http_version_not_supported", "Use HTTP/1.1 (or HTTP/1.0)"),
}
# nginx's own codes, answered as a standard status: 494 "request header too large" is 431.
NGINX_ALIASES: dict[int, int] = {494: 431}
# Where error_page sends the gateway's own errors: internal, exact-match locations.
PROBLEM_URI = "/_emporium/problem/"

CORS_ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
CORS_ALLOW_HEADERS = "Authorization, Content-Type, Idempotency-Key, If-Match, If-None-Match, X-Request-ID"
CORS_EXPOSE_HEADERS = "X-Request-ID, X-Total-Count, Link, ETag, Location, Retry-After"
CORS_MAX_AGE = "600"

_HOSTPORT = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[A-Za-z0-9.-]+)):(?P<port>\d{1,5})$")
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(?::\d{1,5})?$")
_UNSAFE_PATH = re.compile(r'["\\$;{}\n\r\t#\']')


class UsageError(Exception):
    pass


def parse_hostport(text: str, what: str) -> str:
    m = _HOSTPORT.match(text.strip())
    if not m or not 0 < int(m.group("port")) < 65536:
        raise UsageError(f"{what}: expected HOST:PORT (or [V6]:PORT), got {text!r}")
    host = f"[{m.group('v6')}]" if m.group("v6") else m.group("host")
    return f"{host}:{int(m.group('port'))}"


def parse_upstreams(values: list[str]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {name: [] for name in SERVICES}
    seen: set[str] = set()
    for value in values:
        name, sep, servers = value.partition("=")
        name = name.strip()
        if not sep or name not in SERVICES:
            raise UsageError(f"--upstream: expected NAME=HOST:PORT[,HOST:PORT...] with NAME one of "
                             f"{', '.join(SERVICES)}; got {value!r}")
        if name in seen:
            raise UsageError(f"--upstream: {name} given twice")
        seen.add(name)
        for item in filter(None, (s.strip() for s in servers.split(","))):
            server = parse_hostport(item, f"--upstream {name}")
            if server in result[name]:
                raise UsageError(f"--upstream {name}: {server} listed twice")
            result[name].append(server)
    return result


def parse_origins(text: str) -> list[str]:
    origins = [o.strip().rstrip("/") for o in text.split(",") if o.strip()]
    for origin in origins:
        if not _ORIGIN.match(origin):
            raise UsageError(f"--cors-origins: {origin!r} is not an origin like https://shop.example:8443")
    return origins


def quote_path(path: Path) -> str:
    text = str(path)
    if _UNSAFE_PATH.search(text):
        raise UsageError(f"path {text!r} contains a character nginx config cannot hold")
    return f'"{text}"'


def nginx_string(text: str) -> str:
    """A single-quoted nginx string; `$rid` inside stays a variable."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def problem_body(status: int, title: str, code: str, detail: str) -> str:
    doc = {
        "type": f"urn:emporium:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "errors": [],
        "requestId": "__RID__",
        "msg": detail,
        "error": detail,
    }
    # $rid only ever holds [A-Za-z0-9._:-], so it is safe inside a JSON string.
    return json.dumps(doc, separators=(",", ":")).replace("__RID__", "$rid")


def render_upstreams(upstreams: dict[str, list[str]]) -> str:
    blocks = []
    for name, servers in upstreams.items():
        if not servers:
            continue
        lines = [f"  upstream {name} {{"]
        lines += [f"    server {s} max_fails=1 fail_timeout=5s;" for s in servers]
        lines += [
            "    keepalive 64;",
            "    keepalive_requests 10000;",
            # Shorter than the services' DRAIN_IDLE_MS (6 s): nginx closes an idle connection
            # before a draining instance would.
            "    keepalive_timeout 5s;",
            "  }",
            "",
        ]
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def render_service_locations(upstreams: dict[str, list[str]]) -> str:
    out = []
    for name, base in SERVICES.items():
        out.append(f"    location ~ ^{re.escape(base)}(/|$) {{")
        if upstreams[name]:
            out.append(f"      proxy_pass http://{name};")
        else:
            body = problem_body(503, "Service Unavailable", "service_unavailable",
                                f"No instance of the {name} service is running")
            out.append(f"      return 503 {nginx_string(body)};")
        out.append("    }")
        out.append("")
    return "\n".join(out)


def render_error_pages() -> str:
    lines = [f"    error_page {status} {PROBLEM_URI}{status};" for status in PROBLEMS]
    lines += [f"    error_page {code} ={status} {PROBLEM_URI}{status};" for code, status in NGINX_ALIASES.items()]
    return "\n".join(lines)


def render_error_locations() -> str:
    out = []
    for status, (title, code, detail) in PROBLEMS.items():
        # Exact-match locations win over the regex locations; `internal` makes them 404 from outside.
        out.append(f"    location = {PROBLEM_URI}{status} {{")
        out.append("      internal;")
        out.append(f"      return {status} {nginx_string(problem_body(status, title, code, detail))};")
        out.append("    }")
    return "\n".join(out)


def render_cors(origins: list[str]) -> tuple[str, str, str]:
    """(maps in http{}, add_header lines in server{}, preflight answer in server{})."""
    if not origins:
        return "", "", ""
    maps = ["  # CORS allow-list (--cors-origins): the Origin is echoed only when listed.",
            "  map $http_origin $cors_origin {",
            '    default "";']
    maps += [f'    "{o}" $http_origin;' for o in origins]
    maps += ["  }",
             "  # A preflight: OPTIONS carrying Access-Control-Request-Method.",
             "  map $request_method:$http_access_control_request_method $cors_preflight {",
             "    default 0;",
             '    "~^OPTIONS:.+" 1;',
             "  }",
             "  map $cors_preflight:$cors_origin $cors_allow_methods {",
             '    default "";',
             f'    "~^1:.+" "{CORS_ALLOW_METHODS}";',
             "  }",
             "  map $cors_preflight:$cors_origin $cors_allow_headers {",
             '    default "";',
             f'    "~^1:.+" "{CORS_ALLOW_HEADERS}";',
             "  }",
             "  map $cors_preflight:$cors_origin $cors_max_age {",
             '    default "";',
             f'    "~^1:.+" "{CORS_MAX_AGE}";',
             "  }",
             "  map $cors_origin $cors_expose {",
             '    default "";',
             f'    "~." "{CORS_EXPOSE_HEADERS}";',
             "  }",
             ""]
    headers = "\n".join([
        "    add_header Access-Control-Allow-Origin $cors_origin always;",
        "    add_header Access-Control-Expose-Headers $cors_expose always;",
        "    add_header Access-Control-Allow-Methods $cors_allow_methods always;",
        "    add_header Access-Control-Allow-Headers $cors_allow_headers always;",
        "    add_header Access-Control-Max-Age $cors_max_age always;",
        "    add_header Vary Origin always;",
    ])
    preflight = "\n".join([
        "    # Preflights are answered here; the services never see them.",
        "    if ($cors_preflight) {",
        "      return 204;",
        "    }",
        "",
    ])
    return "\n".join(maps), headers, preflight


def user_directive(name: str | None) -> str:
    if not name:
        return "# user: not set (workers keep nginx's default when started as root)"
    try:
        entry = pwd.getpwnam(name)
    except KeyError as exc:
        raise UsageError(f"--user: no such user {name!r}") from exc
    group = grp.getgrgid(entry.pw_gid).gr_name
    return f"user {name} {group};"


def render(args: argparse.Namespace) -> str:
    prefix = Path(args.prefix).resolve()
    upstreams = parse_upstreams(args.upstream)
    origins = parse_origins(args.cors_origins or "")
    if not 0 < args.proxy_read_timeout <= 3600:
        raise UsageError(f"--proxy-read-timeout: expected 1..3600 seconds, got {args.proxy_read_timeout}")
    if args.workers != "auto" and not (args.workers.isdigit() and 0 < int(args.workers) <= 64):
        raise UsageError(f"--workers: expected auto or 1..64, got {args.workers!r}")
    access_log = Path(args.access_log).resolve() if args.access_log else prefix / "logs" / "access.log"
    cors_maps, cors_headers, cors_preflight = render_cors(origins)

    text = TEMPLATE.read_text()
    # Paths first: every `{{prefix}}/a/b` becomes one quoted absolute path.
    text = re.sub(r"\{\{prefix\}\}(/[A-Za-z0-9_./-]*)",
                  lambda m: quote_path(prefix / m.group(1).lstrip("/")), text)
    slots = {
        "worker_processes": args.workers,
        "user_directive": user_directive(args.user),
        "listen": parse_hostport(args.listen, "--listen"),
        "access_log": quote_path(access_log),
        "cors_maps": cors_maps,
        "cors_headers": cors_headers,
        "cors_preflight": cors_preflight,
        "upstreams": render_upstreams(upstreams),
        "service_locations": render_service_locations(upstreams),
        "error_pages": render_error_pages(),
        "error_locations": render_error_locations(),
        "proxy_read_timeout": f"{args.proxy_read_timeout}s",
    }
    for key, value in slots.items():
        text = text.replace("{{" + key + "}}", value)
    leftover = re.search(r"\{\{[a-z_]+\}\}", text)
    if leftover:
        raise UsageError(f"template slot {leftover.group(0)} has no value")
    return text


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True, help="HOST:PORT the gateway listens on")
    parser.add_argument("--prefix", required=True, help="directory for pid, logs and temp files")
    parser.add_argument("--out", required=True, help="the nginx.conf to write")
    parser.add_argument("--upstream", action="append", default=[],
                        help="NAME=HOST:PORT[,HOST:PORT...]; NAME one of " + ", ".join(SERVICES))
    parser.add_argument("--cors-origins", default="", help="comma-separated allowed origins")
    parser.add_argument("--user", help="user the worker processes run as (when started as root)")
    parser.add_argument("--workers", default="auto", help="worker_processes: auto or a number")
    parser.add_argument("--access-log", help="access log file (default PREFIX/logs/access.log)")
    parser.add_argument("--proxy-read-timeout", type=int, default=60,
                        help="seconds nginx waits for a service's answer before a 504 (default 60)")
    parser.add_argument("--check", action="store_true", help="run nginx -t on the result")
    args = parser.parse_args(argv)

    try:
        text = render(args)
    except UsageError as exc:
        print(f"render.py: {exc}", file=sys.stderr)
        return 2

    prefix = Path(args.prefix).resolve()
    for sub in ("logs", "tmp"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, out)

    if args.check:
        nginx = "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else "nginx"
        result = subprocess.run([nginx, "-t", "-q", "-p", f"{prefix}/", "-c", str(out.resolve()),
                                 "-e", str(prefix / "logs" / "error.log")],
                                capture_output=True, text=True)
        if result.returncode != 0:
            sys.stderr.write(result.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
