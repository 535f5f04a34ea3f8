#!/usr/bin/env python3
"""lf-proxy's TLS flags, as an operator uses them, with lf-echo as the upstream and Python's ssl
module as the client (test certificates made by the openssl command in a temporary directory):

- terminate: --tls-cert/--tls-key in front of a plaintext lf-echo;
- originate: a plaintext listener, --upstream-tls --upstream-ca --upstream-server-name to an
  lf-echo serving TLS, the second upstream connection resuming the first one's session;
- both at once;
- an upstream whose certificate does not carry --upstream-server-name, and one signed by a CA the
  proxy does not trust: the client's connection is closed and the log says why;
- --tls-ca with --tls-client-auth required: a client without a certificate is refused, one with
  a certificate from that CA is served.

Each case sends a line and 256 KiB of random bytes and must get them back unchanged; every
process exits 0 on SIGTERM.

usage: lf_proxy_tls_test.py LF_PROXY LF_ECHO
"""
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time


def fail(message):
    print("FAIL:", message, file=sys.stderr)
    sys.exit(1)


def run(command):
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        fail(f"{' '.join(command)} exited {done.returncode}: {done.stdout}{done.stderr}")


def make_certificates(work):
    """A test CA; a server certificate for localhost and 127.0.0.1; a client certificate."""
    def path(name):
        return os.path.join(work, name)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run(["openssl", "req", "-x509", *ec, "-days", "2", "-subj", "/CN=lf-proxy-test-ca",
         "-keyout", path("ca.key"), "-out", path("ca.pem")])
    for name, subject, extension in (
            ("server", "/CN=localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1"),
            ("client", "/CN=proxy-test-client", "extendedKeyUsage=clientAuth")):
        run(["openssl", "req", *ec, "-subj", subject, "-keyout", path(f"{name}.key"),
             "-out", path(f"{name}.csr")])
        with open(path(f"{name}.ext"), "w") as f:
            f.write(extension + "\n")
        run(["openssl", "x509", "-req", "-in", path(f"{name}.csr"), "-CA", path("ca.pem"),
             "-CAkey", path("ca.key"), "-CAcreateserial", "-days", "2", "-extfile",
             path(f"{name}.ext"), "-out", path(f"{name}.pem")])
    # Another CA's certificate for the same names: valid, but not from the CA the proxy trusts.
    run(["openssl", "req", "-x509", *ec, "-days", "2", "-subj", "/CN=localhost", "-addext",
         "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", path("stranger.key"),
         "-out", path("stranger.pem")])
    return path


class Program:
    """lf-echo or lf-proxy on port 0 of 127.0.0.1; `port` is the one its banner names."""

    def __init__(self, name, command, work):
        self.name = name
        self.out = os.path.join(work, f"{name}.out")
        with open(self.out, "w") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and self.process.poll() is None:
            text = self.log()
            found = re.search(r"127\.0\.0\.1:(\d+)", text)
            if found and " running " in text:
                self.port = int(found.group(1))
                return
            time.sleep(0.05)
        self.process.kill()
        fail(f"{name} did not start: {self.log()}")

    def log(self):
        with open(self.out) as out:
            return out.read()

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            status = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            fail(f"{self.name} did not stop on SIGTERM")
        if status != 0:
            fail(f"{self.name} exited {status} on SIGTERM: {self.log()}")


def client_context(path, with_certificate=False):
    context = ssl.create_default_context(cafile=path("ca.pem"))
    if with_certificate:
        context.load_cert_chain(path("client.pem"), path("client.key"))
    return context


def connect(port, context):
    raw = socket.create_connection(("127.0.0.1", port), timeout=20)
    return context.wrap_socket(raw, server_hostname="localhost") if context else raw


def round_trip(port, context=None):
    """A line, then 256 KiB of random bytes: both must come back unchanged."""
    with connect(port, context) as conn:
        for data in (b"hello through the proxy\n", os.urandom(256 * 1024)):
            conn.sendall(data)
            got = b""
            while len(got) < len(data):
                chunk = conn.recv(65536)
                if not chunk:
                    fail(f"closed after {len(got)} of {len(data)} bytes")
                got += chunk
            if got != data:
                fail("the bytes came back different")


def closed_without_answer(port, context=None):
    """The proxy closes the client's connection (it cannot reach the upstream as asked)."""
    try:
        with connect(port, context) as conn:
            conn.sendall(b"never answered\n")
            return conn.recv(100) == b""
    except (ConnectionResetError, ssl.SSLError):
        return True


def wait_for_log(program, text):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if text in program.log():
            return True
        time.sleep(0.05)
    return False


def main():
    proxy_binary, echo_binary = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix="lf-proxy-tls-")
    programs = []

    def start(name, binary, *flags):
        program = Program(name, [binary, "--host", "127.0.0.1", "--threads", "2", *flags], work)
        programs.append(program)
        return program

    try:
        path = make_certificates(work)
        server_tls = ["--tls-cert", path("server.pem"), "--tls-key", path("server.key")]
        plain_echo = start("plain-echo", echo_binary, "--port", "0")
        tls_echo = start("tls-echo", echo_binary, "--port", "0", *server_tls)
        stranger_echo = start("stranger-echo", echo_binary, "--port", "0", "--tls-cert",
                              path("stranger.pem"), "--tls-key", path("stranger.key"))

        def proxy(name, upstream, *flags):
            return start(name, proxy_binary, "--listen", "0", "--to",
                         f"127.0.0.1:{upstream.port}", *flags)

        upstream_tls = ["--upstream-tls", "--upstream-ca", path("ca.pem")]

        terminating = proxy("terminating", plain_echo, *server_tls)
        round_trip(terminating.port, client_context(path))
        print("ok: terminates TLS in front of a plaintext upstream")

        originating = proxy("originating", tls_echo, *upstream_tls,
                            "--upstream-server-name", "localhost", "--log-level", "debug")
        round_trip(originating.port)
        print("ok: originates TLS to an upstream, checking its certificate and name")
        round_trip(originating.port)
        if not wait_for_log(originating, "TLSv1.3 TLS_AES_128_GCM_SHA256, resumed"):
            fail(f"the second upstream connection did not resume:\n{originating.log()}")
        print("ok: the next upstream connection resumes the session of the one before")

        both = proxy("both", tls_echo, *server_tls, *upstream_tls)
        round_trip(both.port, client_context(path))
        print("ok: terminates and originates (the upstream's IP address is in its certificate)")

        wrong_name = proxy("wrong-name", tls_echo, *upstream_tls,
                           "--upstream-server-name", "wrong.example")
        if not closed_without_answer(wrong_name.port):
            fail("an upstream without the asked name was used")
        if not wait_for_log(wrong_name, "hostname mismatch"):
            fail(f"no reason logged for the wrong name:\n{wrong_name.log()}")
        untrusted = proxy("untrusted", stranger_echo, *upstream_tls)
        if not closed_without_answer(untrusted.port):
            fail("an upstream from an untrusted CA was used")
        if not wait_for_log(untrusted, "certificate verify failed"):
            fail(f"no reason logged for the untrusted upstream:\n{untrusted.log()}")
        print("ok: an upstream with the wrong name or an untrusted CA closes the client, saying why")

        checking = proxy("client-auth", plain_echo, *server_tls, "--tls-ca", path("ca.pem"),
                         "--tls-client-auth", "required")
        if not closed_without_answer(checking.port, client_context(path)):
            fail("a client without a certificate was served")
        round_trip(checking.port, client_context(path, with_certificate=True))
        print("ok: --tls-client-auth required refuses a client without a certificate, serves one "
              "with a certificate from --tls-ca")

        for program in reversed(programs):
            program.stop()
        programs.clear()
        print("ok: every lf-proxy and lf-echo exits 0 on SIGTERM")
    finally:
        for program in programs:
            program.process.kill()
        shutil.rmtree(work, ignore_errors=True)
    print("lf-proxy TLS test passed")


if __name__ == "__main__":
    main()
