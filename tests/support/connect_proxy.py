#!/usr/bin/env python3
"""A minimal HTTP CONNECT proxy for tests (RFC 9110 section 9.3.6): tunnels TCP to the
requested host:port and logs each CONNECT target to --log, one per line. Optional
--auth user:password requires Proxy-Authorization: Basic."""
import argparse
import base64
import select
import socket
import threading


def pump(a, b):
    try:
        while True:
            r, _, _ = select.select([a, b], [], [], 30)
            if not r:
                return
            for s in r:
                data = s.recv(65536)
                if not data:
                    return
                (b if s is a else a).sendall(data)
    except OSError:
        pass
    finally:
        a.close()
        b.close()


def handle(conn, log, auth):
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = conn.recv(4096)
        if not chunk:
            conn.close()
            return
        head += chunk
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:] if ":" in l}
    if method != "CONNECT":
        conn.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
        conn.close()
        return
    if auth and headers.get("proxy-authorization") != "Basic " + base64.b64encode(auth.encode()).decode():
        conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
        conn.close()
        return
    with open(log, "a") as f:
        f.write(target + "\n")
    host, port = target.rsplit(":", 1)
    try:
        upstream = socket.create_connection((host, int(port)), timeout=10)
    except OSError:
        conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
        conn.close()
        return
    conn.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")
    pump(conn, upstream)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--auth", default="")
    a = ap.parse_args()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", a.port))
    s.listen(16)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=handle, args=(conn, a.log, a.auth), daemon=True).start()


if __name__ == "__main__":
    main()
