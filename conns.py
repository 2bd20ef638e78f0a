import socket, sys, time
n = int(sys.argv[1])
ss = []
for i in range(n):
    s = socket.socket(socket.AF_UNIX); s.connect("/tmp/exp/api.sock")
    s.sendall(b"GET /machine-config HTTP/1.1\r\nHost: x\r\n\r\n"); ss.append(s)
time.sleep(0.3)
for s in ss:
    try: s.recv(4096)
    except Exception as e: print("recv", e)
    s.close()
