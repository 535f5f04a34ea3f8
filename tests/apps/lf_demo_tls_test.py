#!/usr/bin/env python3
"""lf-demo over TLS, as a user runs it: on first start it makes a self-signed ECDSA P-256
certificate for localhost, 127.0.0.1 and ::1 in --tls-dir (key mode 0600); curl --cacert gets
/hello over HTTPS; a key SET with redis-cli --tls is read back over the plaintext port (one
store); a restart reuses the same certificate; without --tls-dir the certificate goes to
$XDG_STATE_HOME/lf-demo, else ~/.local/state/lf-demo; --https-port 0 --kv-tls-port 0 make none;
a certificate without its key, a user's certificate with the wrong key, or a --tls-dir that
cannot be made, turns TLS off with the reason and plaintext goes on (a pair of lf's own whose key
does not match, left by a stopped renewal, is made anew); SIGTERM exits 0 every time.

usage: lf_demo_tls_test.py LF_DEMO
"""
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

PORTS = ("echo", "http", "kv", "chat", "timestamp", "udp-echo", "https", "kv-tls")


def fail(message):
    print("FAIL:", message, file=sys.stderr)
    sys.exit(1)


def run(command, timeout=20):
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        fail(f"{' '.join(command)} exited {done.returncode}: {done.stdout}{done.stderr}")
    return done.stdout


class Demo:
    """lf-demo on free loopback ports below the ephemeral range (32768+), where no client of a
    test running in parallel can hold them; another server may, so a start that cannot bind is
    retried on other ports. `off` names the TLS ports to turn off (--https-port 0)."""

    def __init__(self, binary, work, extra=(), env=None, off=()):
        for _ in range(5):
            base = 20000 + 10 * random.randrange(1200)
            self.port = {name: 0 if name in off else base + i for i, name in enumerate(PORTS)}
            command = [binary, "--host", "127.0.0.1", "--threads", "2", *extra]
            for name, port in self.port.items():
                command += [f"--{name}-port", str(port)]
            self.out = os.path.join(work, "out")
            with open(self.out, "w") as out:
                self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                                env=env)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and self.process.poll() is None:
                if "Stop with" in self.banner():
                    return
                time.sleep(0.05)
            self.process.kill()
            self.process.wait()
        fail(f"lf-demo did not start: {self.banner()}")

    def banner(self):
        with open(self.out) as out:
            return out.read()

    def handles_sigterm(self):
        """Whether the stop handler is installed: Server::run() installs it after the banner is
        printed, and a SIGTERM before that would end the process by the default action."""
        try:
            with open(f"/proc/{self.process.pid}/status") as status:
                caught = next(l for l in status if l.startswith("SigCgt:")).split()[1]
        except (OSError, StopIteration):
            return False
        return bool(int(caught, 16) & (1 << (signal.SIGTERM - 1)))

    def stop(self):
        deadline = time.monotonic() + 10
        while not self.handles_sigterm() and time.monotonic() < deadline:
            time.sleep(0.01)
        self.process.send_signal(signal.SIGTERM)
        try:
            status = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            fail("lf-demo did not stop on SIGTERM")
        if status != 0:
            fail(f"lf-demo exited {status} on SIGTERM: {self.banner()}")
        if "lf-demo stopped" not in self.banner():
            fail("no 'lf-demo stopped' line")


def check_certificate(cert, key):
    """Both files there, the key private to its owner, the certificate self-signed ECDSA P-256
    for the three names a local client uses."""
    for path in (cert, key):
        if not os.path.isfile(path):
            fail(f"{path} was not made")
    mode = os.stat(key).st_mode & 0o777
    if mode != 0o600:
        fail(f"{key} has mode {mode:o}, not 600")
    text = run(["openssl", "x509", "-in", cert, "-noout", "-text"])
    for wanted in ("prime256v1", "ecdsa-with-SHA256", "DNS:localhost", "IP Address:127.0.0.1",
                   "IP Address:0:0:0:0:0:0:0:1", "CN = localhost"):
        if wanted not in text:
            fail(f"the certificate lacks {wanted}:\n{text}")
    # The key is the certificate's: the public halves are the same.
    if run(["openssl", "x509", "-in", cert, "-noout", "-pubkey"]) != \
            run(["openssl", "pkey", "-in", key, "-pubout"]):
        fail("the key does not match the certificate")


def check_tls(demo, cert):
    https, kv, kv_tls = demo.port["https"], demo.port["kv"], demo.port["kv-tls"]
    body = run(["curl", "-sS", "--max-time", "10", "--cacert", cert,
                f"https://localhost:{https}/hello"])
    if body != "Hello, World!":
        fail(f"curl over HTTPS got {body!r}")
    # By IP too (the SAN's IP entry), and with Python's strict verification.
    context = ssl.create_default_context(cafile=cert)
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    with context.wrap_socket(socket.create_connection(("127.0.0.1", https), timeout=10),
                             server_hostname="127.0.0.1") as tls:
        tls.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := tls.recv(4096):
            reply += chunk
    if not reply.startswith(b"HTTP/1.1 200") or not reply.endswith(b"Hello, World!"):
        fail(f"Python over HTTPS got {reply!r}")
    # One store behind both ports.
    value = f"over-tls-{random.randrange(1 << 30)}"
    got = run(["redis-cli", "--tls", "--cacert", cert, "-p", str(kv_tls), "set", "greeting",
               value]).strip()
    if got != "OK":
        fail(f"redis-cli --tls set got {got!r}")
    got = run(["redis-cli", "-p", str(kv), "get", "greeting"]).strip()
    if got != value:
        fail(f"plaintext get after a TLS set got {got!r}, not {value!r}")
    # Plaintext on the TLS port is refused, and the port still serves afterwards.
    got = subprocess.run(["redis-cli", "-p", str(kv_tls), "ping"], capture_output=True,
                         text=True, timeout=20).stdout.strip()
    if got == "PONG":
        fail("the TLS port answered plaintext")
    got = run(["redis-cli", "--tls", "--cacert", cert, "-p", str(kv_tls), "ping"]).strip()
    if got != "PONG":
        fail(f"redis-cli --tls ping got {got!r}")


def main():
    binary = sys.argv[1]
    work = tempfile.mkdtemp(prefix="lf-demo-tls-")
    try:
        tls_dir = os.path.join(work, "tls")
        cert, key = os.path.join(tls_dir, "cert.pem"), os.path.join(tls_dir, "key.pem")

        demo = Demo(binary, work, ["--tls-dir", tls_dir])
        if f"TLS certificate {cert} (made now" not in demo.banner():
            fail(f"the banner does not say where the new certificate is:\n{demo.banner()}")
        check_certificate(cert, key)
        if os.stat(tls_dir).st_mode & 0o777 != 0o700:
            fail(f"{tls_dir} is not private to its owner")
        with open(cert, "rb") as f:
            first = f.read()
        check_tls(demo, cert)
        demo.stop()
        print("ok: first run made the certificate; HTTPS and Redis over TLS share plaintext's "
              "routes and store")

        demo = Demo(binary, work, ["--tls-dir", tls_dir])
        if f"TLS certificate {cert} (reused" not in demo.banner():
            fail(f"the restart did not say it reused the certificate:\n{demo.banner()}")
        with open(cert, "rb") as f:
            if f.read() != first:
                fail("the restart made a new certificate")
        check_tls(demo, cert)
        demo.stop()
        print("ok: a restart reuses the certificate")

        # The default place: $XDG_STATE_HOME/lf-demo, else ~/.local/state/lf-demo.
        env = {k: v for k, v in os.environ.items() if k != "XDG_STATE_HOME"}
        env["XDG_STATE_HOME"] = os.path.join(work, "state")
        demo = Demo(binary, work, env=env)
        check_certificate(*(os.path.join(work, "state", "lf-demo", name)
                            for name in ("cert.pem", "key.pem")))
        demo.stop()
        del env["XDG_STATE_HOME"]
        env["HOME"] = os.path.join(work, "home")
        demo = Demo(binary, work, env=env)
        home_dir = os.path.join(work, "home", ".local", "state", "lf-demo")
        check_certificate(os.path.join(home_dir, "cert.pem"), os.path.join(home_dir, "key.pem"))
        check_tls(demo, os.path.join(home_dir, "cert.pem"))
        demo.stop()
        print("ok: without --tls-dir, $XDG_STATE_HOME/lf-demo, else ~/.local/state/lf-demo")

        # Both TLS ports off: no certificate, no TLS lines.
        off_dir = os.path.join(work, "off")
        demo = Demo(binary, work, ["--tls-dir", off_dir], off=("https", "kv-tls"))
        if os.path.exists(off_dir) or "HTTPS" in demo.banner() or "--tls" in demo.banner():
            fail(f"TLS turned off still made a certificate or printed TLS:\n{demo.banner()}")
        demo.stop()
        print("ok: --https-port 0 --kv-tls-port 0 turn TLS off")

        # A certificate without its key is not overwritten: TLS off, saying which file is missing.
        own_dir = os.path.join(work, "own")
        os.makedirs(own_dir)
        shutil.copy(cert, own_dir)
        demo = Demo(binary, work, ["--tls-dir", own_dir])
        if "TLS off: " not in demo.banner() or "its key" not in demo.banner():
            fail(f"a certificate without its key was not reported:\n{demo.banner()}")
        with open(os.path.join(own_dir, "cert.pem"), "rb") as f:
            if f.read() != first:
                fail("a certificate without its key was overwritten")
        demo.stop()
        print("ok: a certificate without its key is reported, not overwritten")

        # A pair of ours whose key does not match (what a renewal stopped between its two renames
        # leaves): made anew. The same mismatch with a certificate of the user's: refused, kept.
        torn_dir = os.path.join(work, "torn")
        os.makedirs(torn_dir, mode=0o700)
        shutil.copy(cert, torn_dir)
        torn_key = os.path.join(torn_dir, "key.pem")
        run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", torn_key])
        os.chmod(torn_key, 0o600)
        demo = Demo(binary, work, ["--tls-dir", torn_dir])
        torn_cert = os.path.join(torn_dir, "cert.pem")
        if f"TLS certificate {torn_cert} (made now" not in demo.banner():
            fail(f"a torn pair of lf's own was not made anew:\n{demo.banner()}")
        check_certificate(torn_cert, torn_key)
        check_tls(demo, torn_cert)
        demo.stop()
        mine_dir = os.path.join(work, "mine")
        os.makedirs(mine_dir, mode=0o700)
        mine_cert, mine_key = os.path.join(mine_dir, "cert.pem"), os.path.join(mine_dir, "key.pem")
        run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-days", "2", "-subj", "/O=mine/CN=localhost", "-keyout",
             os.path.join(mine_dir, "unused.pem"), "-out", mine_cert])
        run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", mine_key])
        with open(mine_cert, "rb") as f:
            mine = f.read()
        demo = Demo(binary, work, ["--tls-dir", mine_dir])
        if "TLS off: " not in demo.banner() or "does not match" not in demo.banner():
            fail(f"a user's certificate with the wrong key was not refused:\n{demo.banner()}")
        with open(mine_cert, "rb") as f:
            if f.read() != mine:
                fail("a user's certificate with the wrong key was overwritten")
        demo.stop()
        print("ok: a torn pair of lf's own is made anew; a user's mismatched pair is refused, kept")

        # A directory that cannot be made: TLS off with the reason, plaintext served all the same.
        demo = Demo(binary, work, ["--tls-dir", "/dev/null/lf-demo"])
        if "TLS off: " not in demo.banner() or "/dev/null/lf-demo" not in demo.banner():
            fail(f"no reason given for TLS off:\n{demo.banner()}")
        body = run(["curl", "-sS", "--max-time", "10", f"http://127.0.0.1:{demo.port['http']}/hello"])
        if body != "Hello, World!":
            fail(f"plaintext HTTP without a certificate got {body!r}")
        demo.stop()
        print("ok: no certificate: TLS off with the reason, plaintext still served")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("lf-demo TLS test passed")


if __name__ == "__main__":
    main()
