# Shared helpers for scripts/*: messages, ports, readiness and stopping processes by PID.
# Sourced, never run. Uses /usr/bin/python3 (the Debian one) for socket work, not a pyenv python3.

PY=/usr/bin/python3

die() {
  echo "$*" >&2
  exit 1
}

note() {
  echo "$*" >&2
}

# port_is_free HOST PORT: true when a server could bind HOST:PORT now (as nginx and the services
# do, with SO_REUSEADDR).
port_is_free() {
  "$PY" - "$1" "$2" <<'EOF'
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
family = socket.AF_INET6 if ":" in host else socket.AF_INET
s = socket.socket(family, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind((host.strip("[]"), port))
    s.listen(1)
except OSError:
    sys.exit(1)
finally:
    s.close()
EOF
}

# free_port HOST START [EXCLUDE...]: prints the first port >= START that is free on HOST and not
# among EXCLUDE (ports already promised to another process of this run).
free_port() {
  local host=$1 port=$2
  shift 2
  local taken=" $* "
  while ((port < 65535)); do
    if [[ "$taken" != *" $port "* ]] && port_is_free "$host" "$port"; then
      echo "$port"
      return 0
    fi
    port=$((port + 1))
  done
  return 1
}

# wait_http URL TIMEOUT_S [PID]: waits until URL answers 200; fails early when PID has exited.
wait_http() {
  local url=$1 timeout=$2 pid=${3:-}
  "$PY" - "$url" "$timeout" "$pid" <<'EOF'
import os, sys, time, urllib.request, urllib.error
url, timeout, pid = sys.argv[1], float(sys.argv[2]), sys.argv[3]
deadline = time.monotonic() + timeout
while time.monotonic() < deadline:
    if pid:
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            sys.exit(3)
        # A zombie (exited, not yet reaped by the shell) is gone too.
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    sys.exit(3)
        except OSError:
            sys.exit(3)
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            if r.status == 200:
                sys.exit(0)
    except (urllib.error.URLError, OSError):
        pass
    time.sleep(0.05)
sys.exit(1)
EOF
}

# stop_pid PID NAME [TIMEOUT_S]: SIGTERM, then SIGKILL after TIMEOUT_S (default 25). Prints the
# exit status when PID is a child of this shell. Returns 0 when it exited 0 (or was not ours).
stop_pid() {
  local pid=$1 name=$2 timeout=${3:-25}
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return $?; }
  kill -TERM "$pid" 2>/dev/null || true
  local waited=0
  while kill -0 "$pid" 2>/dev/null && [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]]; do
    if ((waited >= timeout * 10)); then
      note "$name (pid $pid) did not stop within ${timeout}s: killing it"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  local rc=0
  wait "$pid" 2>/dev/null || rc=$?
  return "$rc"
}

# wait_tcp HOST PORT TIMEOUT_S [PID]: waits until HOST:PORT accepts connections; fails early when
# PID has exited.
wait_tcp() {
  "$PY" - "$@" <<'EOF2'
import os, socket, sys, time
host, port, timeout = sys.argv[1].strip("[]"), int(sys.argv[2]), float(sys.argv[3])
pid = sys.argv[4] if len(sys.argv) > 4 else ""
deadline = time.monotonic() + timeout
while time.monotonic() < deadline:
    if pid:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    sys.exit(3)
        except OSError:
            sys.exit(3)
    try:
        with socket.create_connection((host, port), timeout=0.5):
            sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
EOF2
}
