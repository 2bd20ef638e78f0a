#!/usr/bin/env python3
"""Raw HTTP over a Unix socket, for hearth-tpmd's API tests.

  http_raw.py SOCK send HEX          one request (hex bytes); prints the status
                                     line and body, or "closed"
  http_raw.py SOCK errors N          N error requests on one keep-alive
                                     connection; each answer must be JSON
  http_raw.py SOCK slow SECONDS      one byte a second; prints how long the
                                     server kept the connection
  http_raw.py SOCK hold N SECONDS REQUEST_HEX
                                     holds N idle connections open, then sends
                                     REQUEST on one more every 0.2 s until the
                                     answer is a 503 or SECONDS pass; prints
                                     the last answer
  http_raw.py SOCK crowd N REQUEST_HEX
                                     opens N idle connections, then sends
                                     REQUEST (with "Connection: close") on
                                     one more; prints the whole answer, CRs
                                     dropped, then "open_s=S answer_s=S": how
                                     long the N connects and the answer took
"""
import socket
import sys
import time


def connect(path):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    return s


def answer(s):
    """The status line and body of one response, or 'closed'."""
    f = s.makefile("rb")
    status = f.readline()
    if not status:
        return "closed", b""
    length = 0
    while True:
        line = f.readline()
        if not line or line == b"\r\n":
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return status.decode("latin-1").strip(), f.read(length)


def main():
    path, cmd = sys.argv[1], sys.argv[2]
    if cmd == "send":
        s = connect(path)
        s.settimeout(10)
        s.sendall(bytes.fromhex(sys.argv[3]))
        status, body = answer(s)
        print(status)
        print(body.decode("latin-1"))
    elif cmd == "errors":
        s = connect(path)
        reqs = [b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n",
                b"DELETE /vtpms/zz HTTP/1.1\r\nHost: x\r\n\r\n",
                b"DELETE /vtpms/0123456789abcdef0123456789abcdef HTTP/1.1\r\nHost: x\r\n\r\n",
                b"PUT /vtpms HTTP/1.1\r\nHost: x\r\n\r\n"]
        for i in range(int(sys.argv[3])):
            s.sendall(reqs[i % len(reqs)])
            status, body = answer(s)
            if not body.startswith(b'{"error":'):
                sys.exit("answer %d is not a JSON error: %s %r" % (i, status, body))
    elif cmd == "slow":
        s = connect(path)
        t = time.time()
        try:
            for _ in range(int(sys.argv[3])):
                s.sendall(b"G")
                time.sleep(1)
            s.settimeout(5)
            if s.recv(1) == b"":
                raise OSError("closed")
        except OSError:
            pass
        print("%.0f" % (time.time() - t))
    elif cmd == "hold":
        held = [connect(path) for _ in range(int(sys.argv[3]))]
        end = time.time() + float(sys.argv[4])
        while True:
            s = connect(path)
            s.settimeout(10)
            s.sendall(bytes.fromhex(sys.argv[5]))
            status, body = answer(s)
            s.close()
            if " 503 " in status or time.time() > end:
                break
            time.sleep(0.2)
        print(status)
        print(body.decode("latin-1"))
        for h in held:
            h.close()
    elif cmd == "crowd":
        t = time.time()
        held = []
        for _ in range(int(sys.argv[3])):
            held.append(connect(path))  # blocks while the backlog is full
        opened = time.time() - t
        t = time.time()
        s = connect(path)
        s.settimeout(60)
        try:
            s.sendall(bytes.fromhex(sys.argv[4]))
        except OSError:
            pass  # refused at once: the answer is still there to read
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        print(data.decode("latin-1").replace("\r", ""))
        print("open_s=%.2f answer_s=%.2f" % (opened, time.time() - t))
        for h in held:
            h.close()
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
