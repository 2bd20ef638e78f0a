#!/usr/bin/env python3
"""Raw HTTP against hearth's REST API socket: what curl cannot send.

  api_raw.py SOCK pipeline        three requests in one write; prints each status
  api_raw.py SOCK garbage         junk, a truncated body, then a normal request
                                  on a new connection; prints its status
  api_raw.py SOCK slow SECONDS    a client dribbling its request one byte at a
                                  time while another is served; prints the
                                  other's worst latency in ms
  api_raw.py SOCK concurrent N    N clients, 10 keep-alive GETs each; prints
                                  how many answers were 200
  api_raw.py SOCK big N           a PUT /boot-source with an N-byte body; prints
                                  the status line and body
  api_raw.py SOCK hold N          holds N idle connections, then prints the status
                                  of a request on one more and how long it took (ms)
"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from http_raw import answer, connect  # noqa: E402


def req(method, path, body=b""):
    head = "%s %s HTTP/1.1\r\nHost: x\r\n" % (method, path)
    if body:
        head += "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
    return head.encode() + b"\r\n" + body


def get_ok(path):
    s = connect(path)
    s.settimeout(10)
    s.sendall(req("GET", "/"))
    status, _ = answer(s)
    s.close()
    return status


def main():
    path, cmd = sys.argv[1], sys.argv[2]
    if cmd == "pipeline":
        s = connect(path)
        s.settimeout(10)
        s.sendall(req("GET", "/") + req("PUT", "/logger", b'{"level": "Info"}') +
                  req("GET", "/machine-config"))
        f = s.makefile("rb")
        for _ in range(3):
            status = f.readline().decode().strip()
            length = 0
            while True:
                line = f.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            f.read(length)
            print(status)
    elif cmd == "garbage":
        for junk in (b"\x00\xff\xfe garbage\r\n\r\n", b"GET\r\n\r\n",
                     b"PUT /boot-source HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"kern",
                     b"PUT /boot-source HTTP/1.1\r\nContent-Length: zz\r\n\r\n{}"):
            s = connect(path)
            s.settimeout(5)
            s.sendall(junk)
            s.close()
        print(get_ok(path))
    elif cmd == "slow":
        seconds = float(sys.argv[3])
        slow = connect(path)
        data = req("GET", "/")
        stop = time.time() + seconds
        worst = 0.0
        i = 0
        while time.time() < stop and i < len(data) - 1:
            slow.sendall(data[i:i + 1])
            i += 1
            t = time.time()
            if not get_ok(path).startswith("HTTP/1.1 200"):
                sys.exit("a request was refused while another client dribbled")
            worst = max(worst, time.time() - t)
            time.sleep(0.1)
        print("%.0f" % (worst * 1000))
    elif cmd == "concurrent":
        n = int(sys.argv[3])
        ok = [0] * n

        def client(k):
            s = connect(path)
            s.settimeout(30)
            for _ in range(10):
                s.sendall(req("GET", "/"))
                status, _ = answer(s)
                ok[k] += status.startswith("HTTP/1.1 200")
            s.close()
        threads = [threading.Thread(target=client, args=(k,)) for k in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(sum(ok))
    elif cmd == "big":
        s = connect(path)
        s.settimeout(10)
        try:
            s.sendall(req("PUT", "/boot-source", b" " * int(sys.argv[3])))
        except OSError:
            pass  # answered from the headers alone, the rest refused: read that answer
        status, body = answer(s)
        print(status)
        print(body.decode("latin-1"))
    elif cmd == "hold":
        held = [connect(path) for _ in range(int(sys.argv[3]))]
        t = time.time()
        s = connect(path)
        s.settimeout(10)
        try:
            s.sendall(req("GET", "/"))
        except OSError:
            pass  # the 503 came, and the server closed, before our request went out: read it
        status, _ = answer(s)
        print(status)
        print("%.0f" % ((time.time() - t) * 1000))
        for h in held:
            h.close()
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
