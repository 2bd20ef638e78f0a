#!/usr/bin/env python3
"""A hostile host between hearth-attest and agents, for the attestation
tests. Listens on a Unix socket; each connection is served in a thread.

  attest_mitm.py LISTEN relay A          passes everything to A
  attest_mitm.py LISTEN replay A         passes everything to A, but
                                         answers every quote after the
                                         first with the first one's
  attest_mitm.py LISTEN swap-quote A B   identity and activation from A,
                                         the quote (same nonce) from B
  attest_mitm.py LISTEN vsock-mux A      plays Firecracker's vsock socket:
                                         "CONNECT <port>" -> "OK <n>",
                                         then relays to A
  attest_mitm.py LISTEN vsock-refuse     "CONNECT <port>", then hangs up
                                         (no listener in the guest)
  attest_mitm.py LISTEN truncate-log A   relays to A, cutting 40 bytes off
                                         the event log in quote answers
  attest_mitm.py LISTEN edit-log A       relays to A, changing the first
                                         "hearth.attest" in the event log
                                         (the command line's data) to
                                         "hearth.attesT"

A and B are "unix:PATH" or "vsock:UDS:PORT" (a VM's vsock socket)."""
import base64
import json
import os
import socket
import sys
import threading


def connect(target):
    kind, rest = target.split(":", 1)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if kind == "unix":
        s.connect(rest)
        return s
    path, port = rest.rsplit(":", 1)
    s.connect(path)
    s.sendall(b"CONNECT %d\n" % int(port))
    line = b""
    while not line.endswith(b"\n"):
        c = s.recv(1)
        if not c:
            raise OSError("vsock CONNECT refused")
        line += c
    if not line.startswith(b"OK "):
        raise OSError("vsock CONNECT answered %r" % line)
    return s


class Lines:
    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def read(self):
        while b"\n" not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                return None
            self.buf += d
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def write(self, line):
        self.sock.sendall(line + b"\n")


recorded = {}
lock = threading.Lock()


def serve(conn, mode, targets):
    try:
        relay(conn, mode, targets)
    except (OSError, ValueError) as e:
        print("attest_mitm: %s" % e, file=sys.stderr)
    finally:
        conn.close()


def relay(conn, mode, targets):
    client = Lines(conn)
    if mode.startswith("vsock"):
        line = client.read()
        if mode == "vsock-refuse" or not line or not line.startswith(b"CONNECT "):
            return
        client.write(b"OK 1073741824")
    a = Lines(connect(targets[0]))
    b = Lines(connect(targets[1])) if mode == "swap-quote" else None
    while True:
        req = client.read()
        if req is None:
            break
        op = json.loads(req).get("op")
        peer = b if op == "quote" and b else a
        peer.write(req)
        res = peer.read()
        if res is None:
            break
        if mode == "replay" and op == "quote":
            with lock:
                res = recorded.setdefault("quote", res)
        if mode.endswith("-log") and op == "quote":
            answer = json.loads(res)
            log = base64.b64decode(answer["event_log"])
            if mode == "truncate-log":
                log = log[:-40]
            else:
                log = log.replace(b"hearth.attest", b"hearth.attesT", 1)
            answer["event_log"] = base64.b64encode(log).decode()
            res = json.dumps(answer, separators=(",", ":")).encode()
        client.write(res)


def main():
    listen, mode, targets = sys.argv[1], sys.argv[2], sys.argv[3:]
    if os.path.exists(listen):
        os.unlink(listen)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(listen)
    srv.listen(64)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn, mode, targets), daemon=True).start()


main()
