#!/usr/bin/env python3
"""The newsroom of docs/writing-a-handler.md ("Putting it together"), run as a user would run it.

Three reporters on 127.0.0.1: a line from one reaches the other two and not its sender; a flood
toward a reporter that does not read is refused by try_send() once 256 KiB wait for it (counted
in newsroom_dropped_total at /metrics) while every published line is counted; on SIGTERM each
reporter gets "the newsroom is closing" after everything queued for it, then EOF, and the
server exits 0.

usage: newsroom_test.py NEWSROOM_SERVER
"""
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

GOODBYE = b"the newsroom is closing\n"
WELCOME = b"welcome to the newsroom\n"
FLOOD_LINES = 16000
FLOOD_LINE = b"x" * 1000 + b"\n"  # 16 MB in all: more than any loopback buffers hold


def fail(message):
    print("FAIL:", message, file=sys.stderr)
    sys.exit(1)


def start(binary):
    """Starts the server on a free even port below the ephemeral range; returns (process, port)."""
    for _ in range(5):
        port = 20000 + 2 * random.randrange(6000)
        server = subprocess.Popen([binary, str(port)], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and server.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port + 1), timeout=1).close()
                return server, port
            except OSError:
                time.sleep(0.05)
        server.kill()
        server.wait()
    fail("the newsroom did not start")


def reporter(port, receive_buffer=None):
    sock = socket.socket()
    if receive_buffer:  # before connecting: the window stays small
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    return sock


def read_exactly(sock, size):
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            fail(f"EOF after {data!r}")
        data += chunk
    return data


def read_to_eof(sock, into):
    while True:
        chunk = sock.recv(1 << 16)
        if not chunk:
            return
        into.append(chunk)


def metric(port, name):
    with urllib.request.urlopen(f"http://127.0.0.1:{port + 1}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    found = re.search(rf"^{name} (\S+)$", text, re.M)
    if not found:
        fail(f"{name} is not in /metrics")
    return float(found.group(1))


def main():
    server, port = start(sys.argv[1])
    try:
        a, b = reporter(port), reporter(port)
        c = reporter(port, receive_buffer=4096)
        for sock in (a, b, c):
            if read_exactly(sock, len(WELCOME)) != WELCOME:
                fail("no welcome")

        line = b"breaking: lf has timers\n"
        a.sendall(line)
        for sock in (b, c):
            if read_exactly(sock, len(line)) != line:
                fail("a reporter missed the line")
        a.settimeout(0.3)
        try:
            fail(f"the sender got its own line back: {a.recv(100)!r}")
        except socket.timeout:
            pass
        a.settimeout(10)

        # b reads everything while a floods; c reads nothing until the server stops.
        b_received = []
        b_reader = threading.Thread(target=read_to_eof, args=(b, b_received))
        b_reader.start()
        a.sendall(FLOOD_LINE * FLOOD_LINES)
        published = 1 + FLOOD_LINES
        deadline = time.monotonic() + 30
        while metric(port, "newsroom_lines_total") < published:
            if time.monotonic() > deadline:
                fail(f"published {metric(port, 'newsroom_lines_total')} of {published} lines")
            time.sleep(0.1)
        if metric(port, "newsroom_lines_total") != published:
            fail("more lines counted than published")
        dropped = metric(port, "newsroom_dropped_total")
        if dropped < 1:
            fail("no delivery to the reporter that does not read was refused")
        print(f"published {published} lines, refused {int(dropped)} deliveries")

        server.send_signal(signal.SIGTERM)
        c_received, a_received = [], []
        read_to_eof(c, c_received)
        read_to_eof(a, a_received)
        b_reader.join(timeout=30)
        if b_reader.is_alive():
            fail("b never got EOF")
        for name, received in (("a", a_received), ("b", b_received), ("c", c_received)):
            stream = b"".join(received)
            if not stream.endswith(GOODBYE):
                fail(f"{name}'s last line is {stream[-60:]!r}, not the goodbye")
            lines = stream[: -len(GOODBYE)].split(b"\n")[:-1]
            if any(line != FLOOD_LINE[:-1] for line in lines):
                fail(f"{name} got a line that is not whole")
        if sum(len(chunk) for chunk in a_received) != len(GOODBYE):
            fail("the sender got more than the goodbye")
        if server.wait(timeout=30) != 0:
            fail(f"the server exited with {server.returncode}")
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    print("newsroom: ok")


if __name__ == "__main__":
    main()
