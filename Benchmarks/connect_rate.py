#!/usr/bin/env python3
"""Connection-rate probes for Scripts/bench: a trivial accept-and-close server, and a client that opens
connections one after another (connect, wait for the server's close, close) for a bounded count and time."""
import socket
import sys
import time


def serve(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server = socket.socket(family, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host, port))
    server.listen(4096)
    print("ready", flush=True)
    while True:
        conn, _ = server.accept()
        conn.close()


def connect(host: str, port: int, count: int, seconds: float) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    done = failed = 0
    start = time.monotonic()
    deadline = start + seconds
    while done + failed < count and time.monotonic() < deadline:
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.settimeout(2)
        try:
            s.connect((host, port))
        except OSError:
            failed += 1
            s.close()
            continue
        try:
            s.recv(1)  # the server's close (FIN or RST) ends the connection
        except ConnectionResetError:
            pass
        except OSError:
            failed += 1
            s.close()
            continue
        done += 1
        s.close()
    elapsed = time.monotonic() - start
    print(f"{done / elapsed:.0f} {done} {failed} {elapsed:.2f}")


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        connect(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
