#!/usr/bin/env python3
"""Runs the workloads of docs/perf.md against every concurrency model of lf and every peer, A/B
interleaved, and writes one JSON file of results (rendered into docs/perf.md by render.py).

Called by perf/run.sh, which installs what is missing and builds first. Every server runs pinned
to core 0 and every load generator to core 1 (taskset), one server at a time, started fresh for
each measurement on loopback; nginx and redis-server get their configuration in a temporary
directory. Each repetition runs every system once (the order reversed on every other repetition),
so each system is measured side by side with lf, and ratios are medians of per-pair ratios.
The mixed workloads (MIXED) let loadgen mark the messages the server blocks on and report the
latency of the unmarked ones, the victims, apart (docs/perf.md, section 3).
The callgrind workload (perf/callgrind.sh, deterministic: one repetition) counts the user-space
instructions per echoed message of every echo server with 1 and 2 threads. --only picks workloads.
"""

import argparse
import csv
import datetime
import io
import itertools
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

LF_MODELS = ["lf", "lf-et", "lf-spin", "lf-handoff", "reactor", "hsha", "single"]
# The mixed workloads: the client (loadgen --block-permille) marks `permille` of every 1000 16 B
# messages; the server (--client-blocks) sleeps or computes `ms` before echoing a marked one. The
# figures of interest are the victims': the unmarked messages, held up only by how the server
# shares its threads. Every multi-threaded system runs MIXED_THREADS threads.
MIXED_THREADS = 4
MIXED_SIZE = 16
MIXED = [
    {"workload": "mixed-light", "connections": 10, "permille": 2, "ms": 2, "kind": "sleep"},
    {"workload": "mixed-heavy", "connections": 100, "permille": 5, "ms": 2, "kind": "sleep"},
    {"workload": "mixed-starvation", "connections": 100, "permille": 50, "ms": 5, "kind": "sleep"},
    {"workload": "mixed-cpu-heavy", "connections": 100, "permille": 10, "ms": 1, "kind": "compute"},
]
# How long the starvation workload waits, after its load, for an elastic thread set to shrink
# back to its base size (the target is 10 s; the default idle exit is 5 s).
SHRINK_WAIT_S = 15
# The TLS workloads (lf-http --tls-cert/--tls-key against nginx, the same certificate): TLS 1.3
# only, one cipher, ECDSA P-256 certificate, X25519 key exchange. The clients (wrk, openssl s_time,
# curl) are held to them through an OpenSSL configuration file (OPENSSL_CONF), nginx through its
# own; lf's server takes what the client offers. No kernel TLS: the bulk file goes through read +
# SSL_write in both servers.
TLS_CIPHER = "TLS_AES_128_GCM_SHA256"
TLS_GROUP = "X25519"
TLS_BULK_MIB = 64
TLS_CLIENT_CONF = f"""openssl_conf = lf_perf
[lf_perf]
ssl_conf = lf_perf_ssl
[lf_perf_ssl]
system_default = lf_perf_tls
[lf_perf_tls]
MinProtocol = TLSv1.3
Ciphersuites = {TLS_CIPHER}
Groups = {TLS_GROUP}
"""
CALLGRIND_SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "callgrind.sh")


def named(workload, name):
    """Whether `name` (of --only) picks the workload: its name or a prefix before '-'."""
    return workload == name or workload.startswith(name + "-")


class Suite:
    def __init__(self, args):
        self.args = args
        self.build = os.path.abspath(args.build_dir)
        self.quick = args.quick
        self.threads = args.threads
        self.reps = args.reps or (1 if self.quick else 3)
        self.warmup = 0.15 if self.quick else 0.3
        self.duration = 0.4 if self.quick else 1.5
        self.tmp = tempfile.mkdtemp(prefix="lf-perf-")
        self.port = 21000
        self.pin = os.cpu_count() is not None and os.cpu_count() >= 2
        self.runs = []
        self.notes = []
        self.step = 0
        self.total_steps = 0
        self.fd_limit = args.fd_limit
        self.only = [w for w in args.only.split(",") if w]

    # ----- helpers -----------------------------------------------------------------------------
    def app(self, name):
        return os.path.join(self.build, "apps", name)

    def perf_bin(self, name):
        return os.path.join(self.build, "perf", name)

    def server_prefix(self):
        return ["taskset", "-c", "0"] if self.pin else []

    def load_prefix(self):
        return ["taskset", "-c", "1"] if self.pin else []

    def next_port(self):
        self.port += 1
        if self.port > 30000:
            self.port = 21001
        return self.port

    def selected(self, workload):
        return not self.only or any(named(workload, o) for o in self.only)

    def progress(self, text):
        self.step += 1
        print(f"[{self.step:3d}/{self.total_steps}] {text}", file=sys.stderr, flush=True)

    def start(self, command, port, log_name):
        """Starts a server, waits until its port accepts a connection. Returns the Popen or None."""
        log = open(os.path.join(self.tmp, log_name), "w")
        proc = subprocess.Popen(self.server_prefix() + command, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return None
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return proc
            except OSError:
                time.sleep(0.02)
        self.stop(proc)
        return None

    @staticmethod
    def stop(proc):
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=5)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()

    @staticmethod
    def server_pid(proc):
        """The pid of the server itself (taskset execs it, so it is the same process)."""
        return proc.pid

    def log_tail(self, log_name):
        try:
            with open(os.path.join(self.tmp, log_name)) as f:
                return f.read()[-400:].strip()
        except OSError:
            return ""

    # ----- systems -----------------------------------------------------------------------------
    def detect_models(self):
        """The --model names lf-echo offers (parsed from --help), or None without --model."""
        try:
            text = subprocess.run([self.app("lf-echo"), "--help"], capture_output=True, text=True,
                                  timeout=10).stdout
        except (OSError, subprocess.TimeoutExpired):
            return None
        if "--model" not in text:
            return None
        lines = text[text.find("--model"):].splitlines()
        # the --model line and its continuation lines (up to the next option)
        near = "\n".join([lines[0]] + [l for l in itertools.takewhile(
            lambda l: not l.lstrip().startswith("-"), lines[1:])])
        brace = re.search(r"\{([^}]*)\}", near)  # CLI11 prints IsMember choices as {a,b,c}
        if brace:
            return [n.strip() for n in brace.group(1).split(",") if n.strip()] or ["lf"]
        words = set(re.findall(r"[a-z][a-z0-9-]*", near))
        found = [m for m in LF_MODELS if m in words]
        return found or ["lf"]

    def has_max_threads(self):
        """Whether lf-echo takes --max-threads (the elastic thread set), from its --help."""
        try:
            text = subprocess.run([self.app("lf-echo"), "--help"], capture_output=True, text=True,
                                  timeout=10).stdout
        except (OSError, subprocess.TimeoutExpired):
            return False
        return "--max-threads" in text

    def default_model(self):
        """The model lf-echo runs without --model ("default: NAME" in --help), else lf."""
        try:
            text = subprocess.run([self.app("lf-echo"), "--help"], capture_output=True, text=True,
                                  timeout=10).stdout
        except (OSError, subprocess.TimeoutExpired):
            return "lf"
        found = re.search(r"\(default: ([a-z][a-z0-9-]*)\)", text)
        return found.group(1) if found else "lf"

    def lf_command(self, program, model, port, threads, extra=()):
        cmd = [self.app(program), "--host", "127.0.0.1", "--port", str(port), "--log-level", "warn"]
        if self.models is not None:
            cmd += ["--model", model]
        cmd += ["--threads", "1" if model == "single" else str(threads)]
        return cmd + list(extra)

    def echo_systems(self, threads, extra=()):
        """(name, command builder port -> argv) for every echo server."""
        systems = [(m, (lambda p, m=m: self.lf_command("lf-echo", m, p, threads, extra)))
                   for m in self.lf_models]
        systems.append(("epoll floor", lambda p: [self.perf_bin("epoll_echo"), "--port", str(p),
                                                  "--threads", "1", *extra]))
        systems.append((f"asio 1 ctx x {threads} thr",
                        lambda p: [self.perf_bin("asio_echo"), "--port", str(p), "--threads",
                                   str(threads), "--contexts", "one", *extra]))
        systems.append((f"asio {threads} ctx x 1 thr",
                        lambda p: [self.perf_bin("asio_echo"), "--port", str(p), "--threads",
                                   str(threads), "--contexts", "per-thread", *extra]))
        return systems

    def mixed_systems(self, spec):
        """The echo servers of a mixed workload: every lf model and both Asio variants, with the
        client choosing the blocked messages (the epoll floor, single-threaded, is left out). For
        starvation, also the reference model with a fixed and an elastic thread set."""
        extra = ("--client-blocks", "--message-size", str(MIXED_SIZE), "--block-ms", str(spec["ms"]))
        systems = [s for s in self.echo_systems(MIXED_THREADS, extra) if s[0] != "epoll floor"]
        if spec["workload"] != "mixed-starvation":
            return systems
        if not self.max_threads:
            return systems
        ref = self.reference
        for name, threads, more in (
                (f"{ref} fixed 4", 4, ("--max-threads", "4")),
                (f"{ref} elastic 4", 4, ()),
                (f"{ref} fixed 16", 16, ("--max-threads", "16"))):
            systems.append((name, (lambda p, t=threads, e=extra + more:
                                   self.lf_command("lf-echo", ref, p, t, e))))
        return systems

    def http_systems(self):
        systems = [(m, (lambda p, m=m: self.lf_command("lf-http", m, p, self.threads)))
                   for m in self.lf_models]
        systems.append((f"nginx {self.threads} workers", self.nginx_command))
        return systems

    def redis_systems(self):
        systems = [(m, (lambda p, m=m: self.lf_command("lf-kv", m, p, self.threads)))
                   for m in self.lf_models]
        systems.append(("redis-server", lambda p: [
            "redis-server", "--port", str(p), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--daemonize", "no", "--dir", self.tmp, "--protected-mode", "no",
            "--loglevel", "warning"]))
        return systems

    def tls_files(self):
        """The TLS workloads' certificate (ECDSA P-256, `openssl req`), key, static root with a
        TLS_BULK_MIB MiB file, and the clients' OpenSSL configuration; made once per run."""
        base = os.path.join(self.tmp, "tls")
        files = {"cert": os.path.join(base, "cert.pem"), "key": os.path.join(base, "key.pem"),
                 "root": os.path.join(base, "root"), "conf": os.path.join(base, "client.cnf")}
        if os.path.exists(files["conf"]):
            return files
        os.makedirs(files["root"], exist_ok=True)
        # nginx's workers drop root for an unprivileged user, who must reach the static root.
        for path in (self.tmp, base, files["root"]):
            os.chmod(path, 0o755)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                        "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                        "-keyout", files["key"], "-out", files["cert"]], check=True,
                       capture_output=True, timeout=30)
        with open(os.path.join(files["root"], "big.bin"), "wb") as f:
            for _ in range(TLS_BULK_MIB):
                f.write(os.urandom(1 << 20))
        with open(files["conf"], "w") as f:
            f.write(TLS_CLIENT_CONF)
        return files

    def tls_systems(self):
        """lf-http (the reference model) and nginx, both with the same certificate; with more
        than one server thread, also one thread (worker) each: on the one core both share, lf's
        extra threads add leader hand-offs to every event, nginx's workers nothing."""
        ref = self.reference

        def lf(threads):
            def command(port):
                tls = self.tls_files()
                return self.lf_command("lf-http", ref, port, threads,
                                       ("--tls-cert", tls["cert"], "--tls-key", tls["key"],
                                        "--root", tls["root"]))
            return command

        systems = [(ref, lf(self.threads)), (f"nginx {self.threads} workers",
                                             lambda p: self.nginx_command(p, self.tls_files()))]
        if self.threads > 1:
            systems += [(f"{ref} 1 thread", lf(1)),
                        ("nginx 1 worker", lambda p: self.nginx_command(p, self.tls_files(), 1))]
        return systems

    def nginx_command(self, port, tls=None, workers=None):
        """nginx answering GET /hello like lf-http, with `workers` worker processes (default: as
        many as the server threads); with `tls` (tls_files()), over TLS 1.3 with TLS_CIPHER only
        and serving tls["root"] too."""
        ssl = ";"
        if tls:
            ssl = f""" ssl;
    ssl_certificate {tls["cert"]};
    ssl_certificate_key {tls["key"]};
    ssl_protocols TLSv1.3;
    ssl_conf_command Ciphersuites {TLS_CIPHER};
    root {tls["root"]};"""
        prefix = os.path.join(self.tmp, f"nginx-{port}")
        os.makedirs(os.path.join(prefix, "logs"), exist_ok=True)
        conf = os.path.join(prefix, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""daemon off;
master_process on;
worker_processes {workers or self.threads};
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {prefix}/body;
  proxy_temp_path {prefix}/proxy;
  fastcgi_temp_path {prefix}/fastcgi;
  uwsgi_temp_path {prefix}/uwsgi;
  scgi_temp_path {prefix}/scgi;
  keepalive_requests 100000000;
  server {{
    listen 127.0.0.1:{port} reuseport{ssl}
    location {"= /hello" if tls else "/"} {{ default_type text/plain; return 200 "Hello, World!"; }}
  }}
}}
""")
        return ["nginx", "-p", prefix, "-c", conf]

    # ----- one measurement ---------------------------------------------------------------------
    def measure(self, workload, system, rep, command_for, load):
        port = self.next_port()
        log_name = f"{workload}-{re.sub('[^a-z0-9]+', '_', system)}-{rep}.log"
        proc = self.start(command_for(port), port, log_name)
        record = {"workload": workload, "system": system, "rep": rep}
        if proc is None:
            record["error"] = "server did not start: " + self.log_tail(log_name)
        else:
            try:
                record.update(load(port, proc))
            except Exception as e:  # a failed run is reported, never hidden
                record["error"] = str(e)
            if proc.poll() is not None and "error" not in record:
                record["error"] = "server exited during the run: " + self.log_tail(log_name)
            self.stop(proc)
        self.runs.append(record)
        summary = record.get("error") or record.get("summary", "")
        self.progress(f"{workload:14s} {system:22s} rep {rep + 1}: {summary}")
        return record

    def loadgen(self, port, connections, size, depth=1, mixed=None):
        cmd = self.load_prefix() + [self.perf_bin("loadgen"), "--port", str(port), "-c",
                                    str(connections), "-s", str(size), "--depth", str(depth),
                                    "-d", str(self.duration), "-w", str(self.warmup)]
        if mixed:
            cmd += ["--block-permille", str(mixed["permille"]), "--block-ms", str(mixed["ms"]),
                    "--block-kind", mixed["kind"]]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if not out.stdout.strip():
            raise RuntimeError("loadgen: " + out.stderr.strip()[-300:])
        result = json.loads(out.stdout.strip().splitlines()[-1])
        if out.returncode != 0:
            raise RuntimeError(f"loadgen exit {out.returncode}, errors {result.get('errors')}: "
                               + out.stderr.strip()[-200:])
        lat = result["latency_us"]
        metrics = {"msgs_per_s": result["msgs_per_s"], "mib_per_s": result["mib_per_s"],
                   "p50_us": lat["p50"], "p99_us": lat["p99"], "p999_us": lat["p999"]}
        unit = f"{result['mib_per_s']:.0f} MiB/s" if size >= 65536 else \
            f"{result['msgs_per_s']:,.0f} msg/s"
        summary = f"{unit}, p99 {lat['p99']:.0f} us"
        for part in ("victims", "blocked"):
            if part in result:
                figures = result[part]["latency_us"]
                metrics[f"{part}_count"] = result[part]["count"]
                for key in ("p50", "p99", "p999", "max"):
                    metrics[f"{part}_{key}_us"] = figures[key]
        if "victims" in result:
            summary = (f"{unit}, victims p99 {metrics['victims_p99_us']:.0f} us, blocked p99 "
                       f"{metrics['blocked_p99_us']:.0f} us")
        return {"metrics": metrics, "summary": summary}

    @staticmethod
    def thread_count(proc):
        try:
            return len(os.listdir(f"/proc/{proc.pid}/task"))
        except OSError:
            return None

    def loadgen_watching_threads(self, port, proc, mixed):
        """A mixed run that also counts the server's threads: before the load, at its peak, and
        how long after the load stops an elastic thread set takes to shrink back (checked every
        0.1 s, for at most SHRINK_WAIT_S)."""
        base = self.thread_count(proc)
        peak = [base or 0]
        done = threading.Event()

        def sample():
            while not done.wait(0.05):
                n = self.thread_count(proc)
                if n is not None:
                    peak[0] = max(peak[0], n)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            record = self.loadgen(port, mixed["connections"], MIXED_SIZE, mixed=mixed)
        finally:
            done.set()
            sampler.join()
        stopped = time.monotonic()
        metrics = record["metrics"]
        metrics["threads_base"], metrics["threads_peak"] = base, peak[0]
        if base is None or peak[0] <= base:
            return record
        deadline = stopped + SHRINK_WAIT_S
        while time.monotonic() < deadline:
            n = self.thread_count(proc)
            if n is not None and n <= base:
                metrics["shrink_s"] = round(time.monotonic() - stopped, 1)
                record["summary"] += (f", threads {base} -> {peak[0]} -> {base} in "
                                      f"{metrics['shrink_s']} s")
                return record
            time.sleep(0.1)
        metrics["shrink_s"] = None
        record["summary"] += f", threads {base} -> {peak[0]}, not back within {SHRINK_WAIT_S} s"
        return record

    def idle(self, port, proc, connections):
        time.sleep(0.2)  # let the server settle before the baseline
        cmd = self.load_prefix() + [self.perf_bin("loadgen"), "--port", str(port), "--idle", "-c",
                                    str(connections), "-d", "0.5", "--rss-pid",
                                    str(self.server_pid(proc))]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
        if out.returncode != 0 or not out.stdout.strip():
            raise RuntimeError("loadgen --idle: " + (out.stdout + out.stderr).strip()[-300:])
        result = json.loads(out.stdout.strip().splitlines()[-1])
        per = result["rss_per_connection_bytes"]
        return {"metrics": {"rss_per_conn_bytes": per, "rss_before_kib": result["rss_before_kib"],
                            "rss_after_kib": result["rss_after_kib"]},
                "summary": f"{per:,.0f} B/connection"}

    def wrk(self, port, connections, scheme="http", seconds=None, env=None):
        seconds = seconds or (1 if self.quick else 2)
        cmd = self.load_prefix() + ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
                                    f"{scheme}://127.0.0.1:{port}/hello"]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
        text = out.stdout
        m = re.search(r"Requests/sec:\s+([\d.]+)", text)
        if out.returncode != 0 or not m:
            raise RuntimeError("wrk: " + (text + out.stderr).strip()[-300:])

        def latency(pct):
            lm = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
            if not lm:
                return None
            return float(lm.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[lm.group(2)]

        errors = 0
        sm = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
        if sm:
            errors += sum(int(x) for x in sm.groups())
        nm = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
        if nm:
            errors += int(nm.group(1))
        rps = float(m.group(1))
        metrics = {"req_per_s": rps, "p50_us": latency(50), "p99_us": latency(99), "errors": errors}
        rm = re.search(r"(\d+) requests in", text)
        if rm:
            metrics["requests"] = int(rm.group(1))
        if errors:
            raise RuntimeError(f"wrk reported {errors} errors at {rps:,.0f} req/s")
        return {"metrics": metrics, "summary": f"{rps:,.0f} req/s, p99 {metrics['p99_us']} us"}

    # ----- TLS ---------------------------------------------------------------------------------
    def tls_seconds(self):
        return 2 if self.quick else 5

    def tls_env(self):
        return dict(os.environ, OPENSSL_CONF=self.tls_files()["conf"])

    @staticmethod
    def server_cpu_s(proc):
        """CPU seconds (user + system) the server's processes have used: every process of its
        session (start() gives each server one), so nginx's workers count too."""
        total = 0
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            # fields[0] is stat's 3rd field (state): session is the 6th, utime and stime 14, 15.
            if int(fields[3]) == proc.pid:
                total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def tls_wrk(self, port, proc):
        """HTTPS keep-alive GET /hello, 50 connections; plus the server's CPU per request."""
        before = self.server_cpu_s(proc)
        record = self.wrk(port, 50, "https", self.tls_seconds(), self.tls_env())
        metrics = record["metrics"]
        if metrics.get("requests"):
            metrics["cpu_us_per_op"] = (self.server_cpu_s(proc) - before) * 1e6 / metrics["requests"]
            record["summary"] += f", server CPU {metrics['cpu_us_per_op']:.1f} us/request"
        return record

    def s_time(self, port, proc, reuse):
        """`openssl s_time -new` (a full handshake per connection) or `-reuse` (resumption with
        the first connection's ticket), each connection a GET /hello, one at a time, for
        tls_seconds(). Connections/s by the wall clock, and the server's CPU per connection."""
        tls = self.tls_files()
        cmd = self.load_prefix() + ["openssl", "s_time", "-connect", f"127.0.0.1:{port}",
                                    "-reuse" if reuse else "-new", "-www", "/hello", "-CAfile",
                                    tls["cert"], "-time", str(self.tls_seconds())]
        before, started = self.server_cpu_s(proc), time.monotonic()
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=self.tls_env())
        wall, cpu = time.monotonic() - started, self.server_cpu_s(proc) - before
        m = re.search(r"(\d+) connections in [\d.]+s;", out.stdout)
        if out.returncode != 0 or not m:
            raise RuntimeError("openssl s_time: " + (out.stdout + out.stderr).strip()[-300:])
        connections = int(m.group(1))
        # One mark per connection: 'r' resumed, '*' a full handshake.
        marks = "".join(l for l in out.stdout.splitlines() if l and set(l) <= set("r*t"))
        resumed = marks.count("r") / len(marks) if marks else 0.0
        if reuse and resumed < 0.9:
            raise RuntimeError(f"only {resumed:.0%} of the connections were resumed")
        if not reuse and resumed > 0:
            raise RuntimeError(f"{resumed:.0%} of the connections resumed under -new")
        rate = connections / wall
        metrics = {"conn_per_s": rate, "connections": connections, "resumed_fraction": resumed,
                   "cpu_us_per_op": cpu * 1e6 / max(connections, 1)}
        return {"metrics": metrics, "summary": f"{rate:,.0f} connections/s ({resumed:.0%} resumed), "
                                               f"server CPU {metrics['cpu_us_per_op']:.0f} us each"}

    def tls_bulk(self, port, proc):
        """The TLS_BULK_MIB MiB file over TLS with curl, a few downloads one after the other:
        the median MiB/s, and the server's CPU per MiB."""
        tls = self.tls_files()
        size = TLS_BULK_MIB << 20
        speeds = []
        before = self.server_cpu_s(proc)
        for _ in range(2 if self.quick else 3):
            cmd = self.load_prefix() + [
                "curl", "-sS", "--max-time", "60", "--cacert", tls["cert"], "--tls13-ciphers",
                TLS_CIPHER, "-o", "/dev/null", "-w", "%{http_code} %{size_download} %{time_total}",
                f"https://127.0.0.1:{port}/big.bin"]
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=90,
                                 env=self.tls_env())
            parts = out.stdout.split()
            if out.returncode != 0 or len(parts) != 3 or parts[0] != "200" or int(parts[1]) != size:
                raise RuntimeError("curl: " + (out.stdout + out.stderr).strip()[-300:])
            speeds.append(size / float(parts[2]) / (1 << 20))
        cpu = self.server_cpu_s(proc) - before
        metrics = {"mib_per_s": statistics.median(speeds), "downloads": len(speeds),
                   "cpu_ms_per_mib": cpu * 1e3 / (TLS_BULK_MIB * len(speeds))}
        return {"metrics": metrics,
                "summary": f"{metrics['mib_per_s']:,.0f} MiB/s (" +
                           ", ".join(f"{v:.0f}" for v in speeds) +
                           f"), server CPU {metrics['cpu_ms_per_mib']:.1f} ms/MiB"}

    def redis_benchmark(self, port, pipeline):
        n = (10000 if pipeline == 1 else 100000) if self.quick else (30000 if pipeline == 1 else 300000)
        cmd = self.load_prefix() + ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "50",
                                    "-n", str(n), "-P", str(pipeline), "-t", "set,get", "--csv"]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        rows = [r for r in csv.reader(io.StringIO(out.stdout)) if r and r[0] in ("SET", "GET")]
        if out.returncode != 0 or len(rows) != 2:
            raise RuntimeError("redis-benchmark: " + (out.stdout + out.stderr).strip()[-300:])
        header = next(csv.reader(io.StringIO(out.stdout)))
        metrics = {}
        for row in rows:
            values = dict(zip(header, row))
            key = row[0].lower()
            metrics[f"{key}_per_s"] = float(values["rps"])
            if "p50_latency_ms" in values:
                metrics[f"{key}_p50_us"] = float(values["p50_latency_ms"]) * 1000
                metrics[f"{key}_p99_us"] = float(values["p99_latency_ms"]) * 1000
        return {"metrics": metrics,
                "summary": f"SET {metrics['set_per_s']:,.0f}/s, GET {metrics['get_per_s']:,.0f}/s"}

    # ----- workloads ---------------------------------------------------------------------------
    def interleave(self, workload, systems, load, reps=None):
        for rep in range(reps or self.reps):
            order = systems if rep % 2 == 0 else list(reversed(systems))
            for name, command_for in order:
                self.measure(workload, name, rep, command_for, load)

    def plan(self):
        echo = self.echo_systems(self.threads)
        http, redis = self.http_systems(), self.redis_systems()
        work = []
        for size, tag in ((16, "16"), (4096, "4k")):
            for conns in (10, 100, 1000):
                work.append((f"echo-{tag}-{conns}", echo,
                             lambda p, _proc, c=conns, s=size: self.loadgen(p, c, s)))
        work.append(("bulk-64k-10", echo, lambda p, _proc: self.loadgen(p, 10, 65536)))
        for spec in MIXED:
            load = (self.loadgen_watching_threads if spec["workload"] == "mixed-starvation"
                    else lambda p, _proc, m: self.loadgen(p, m["connections"], MIXED_SIZE, mixed=m))
            work.append((spec["workload"], self.mixed_systems(spec),
                         lambda p, proc, m=spec, load=load: load(p, proc, m)))
        for conns in (50, 500):
            work.append((f"http-{conns}", http, lambda p, _proc, c=conns: self.wrk(p, c)))
        work.append(("redis-50", redis, lambda p, _proc: self.redis_benchmark(p, 1)))
        work.append(("redis-50-p16", redis, lambda p, _proc: self.redis_benchmark(p, 16)))
        tls = self.tls_systems()
        work.append(("tls-https-50", tls, self.tls_wrk))
        work.append(("tls-handshake-full", tls, lambda p, proc: self.s_time(p, proc, False)))
        work.append(("tls-handshake-resumed", tls, lambda p, proc: self.s_time(p, proc, True)))
        work.append(("tls-bulk-64m", tls, self.tls_bulk))
        idle_conns = self.idle_connections()
        work.append(("idle-10k", echo, lambda p, proc: self.idle(p, proc, idle_conns)))
        return work

    def callgrind_systems(self):
        """(name, threads, argv with {port}) of every echo server with 1 and 2 threads, each once
        (`single`, the epoll floor and Asio's two variants are one server with 1 thread)."""
        systems, seen = [], set()
        for one, two in zip(self.echo_systems(1), self.echo_systems(2)):
            for name, command_for in (one, two):
                argv = command_for("{port}")
                threads = int(argv[argv.index("--threads") + 1])
                if (name, threads) not in seen:
                    seen.add((name, threads))
                    systems.append((name, threads, argv))
        return systems

    def callgrind(self, name, threads, argv):
        """User-space instructions per echoed message under callgrind (perf/callgrind.sh, which
        starts the server itself, pinned like the others, and picks the load)."""
        record = {"workload": "callgrind", "system": name, "rep": 0, "threads": threads}
        out = subprocess.run([CALLGRIND_SCRIPT, self.build, "--", *argv], capture_output=True,
                             text=True, timeout=600)
        try:
            result = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else None
        except (json.JSONDecodeError, IndexError):
            result = None
        if result is None:
            record["error"] = f"callgrind.sh exit {out.returncode}: " + \
                (out.stderr or out.stdout).strip()[-300:]
        else:
            record.update({key: result[key] for key in ("connections", "size", "load_s")})
            record["metrics"] = {key: result[key] for key in
                                 ("instructions_per_message", "instructions", "messages")}
            record["summary"] = f"{result['instructions_per_message']:,.1f} instructions/message"
        self.runs.append(record)
        self.progress(f"{'callgrind':14s} {name:22s} {threads} thr: "
                      f"{record.get('error') or record['summary']}")

    def idle_connections(self):
        # Both loadgen and the server need one fd per connection.
        return max(100, min(10000, self.fd_limit - 200))

    def micro(self):
        """Google Benchmark programs; JSON kept as they print it."""
        min_time = "0.05" if self.quick else "0.3"
        benches = [
            ("buffer_bench", ".", True),
            # Each timer benchmark fills a wheel with 1,000,000 timers first: slow to set up.
            ("timer_bench", "BM_ScheduleCancel/" if self.quick else ".", True),
            ("handoff_bench", ".", False),
            ("log_bench", "double:0" if self.quick else ".", False),
        ]
        results = {}
        for name, filt, pinned in benches:
            path = self.perf_bin(name)
            cmd = (self.load_prefix() if pinned else []) + [
                path, "--benchmark_format=json", f"--benchmark_filter={filt}",
                f"--benchmark_min_time={min_time}"]
            start = time.monotonic()
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                                 cwd=self.tmp)
            try:
                results[name] = {"pinned": "core 1" if pinned and self.pin else "none",
                                 "benchmarks": json.loads(out.stdout)["benchmarks"]}
                summary = f"{len(results[name]['benchmarks'])} results"
            except (json.JSONDecodeError, KeyError):
                results[name] = {"error": (out.stderr or out.stdout).strip()[-300:]}
                summary = "error: " + results[name]["error"][-100:]
            self.progress(f"micro {name:24s} {summary} ({time.monotonic() - start:.0f} s)")
        return results

    def machine(self):
        cpu = ""
        try:
            with open("/proc/cpuinfo") as f:
                cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
        except OSError:
            pass

        def version(cmd):
            try:
                out = subprocess.run(cmd, capture_output=True, text=True, timeout=5)
                return (out.stdout + out.stderr).strip().splitlines()[0]
            except (OSError, IndexError, subprocess.TimeoutExpired):
                return "?"

        return {"nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
                "os": version(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
                "compiler": version(["c++", "--version"]),
                "nginx": version(["nginx", "-v"]), "redis": version(["redis-server", "--version"]),
                "wrk": version(["wrk", "--version"])}

    def tls_meta(self):
        """The TLS workloads' conditions, for the document."""
        try:
            with open("/proc/sys/net/ipv4/tcp_available_ulp") as f:
                ulp = f.read().split()
        except OSError:
            ulp = []
        return {"command": self.args.command,
                "date": datetime.datetime.now().isoformat(timespec="seconds"),
                "protocol": "TLSv1.3", "cipher": TLS_CIPHER, "group": TLS_GROUP,
                "certificate": "ECDSA P-256 (openssl req)", "seconds": self.tls_seconds(),
                "bulk_mib": TLS_BULK_MIB, "kernel_tls": "tls" in ulp,
                "tcp_available_ulp": " ".join(ulp),
                "openssl": self.machine_version(["openssl", "version"]),
                "curl": self.machine_version(["curl", "--version"])}

    @staticmethod
    def machine_version(cmd):
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=5)
            return (out.stdout + out.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"

    def run(self):
        started = time.monotonic()
        self.models = self.detect_models()
        self.lf_models = self.models if self.models is not None else ["lf"]
        if self.models is None:
            self.notes.append("lf-echo has no --model flag in this build: only the default "
                              "Leader/Followers dispatcher is measured.")
        if self.args.models:
            self.lf_models = [m for m in self.args.models.split(",") if m]
        self.reference = self.default_model()
        self.max_threads = self.has_max_threads()
        if not self.max_threads and self.selected("mixed-starvation"):
            self.notes.append("lf-echo has no --max-threads flag in this build: the starvation "
                              "workload's fixed and elastic thread-set variants were skipped.")
        if self.reference in self.lf_models:  # the reference goes first
            self.lf_models = [self.reference] + [m for m in self.lf_models if m != self.reference]
        work = self.plan()
        names = [w for w, _, _ in work] + ["callgrind", "micro"]
        unknown = [o for o in self.only if not any(named(n, o) for n in names)]
        if unknown:
            sys.exit(f"run_suite.py: --only {','.join(unknown)}: no such workload; workloads: "
                     f"{', '.join(names)} (or a prefix before '-': echo, echo-16, http...)")
        work = [w for w in work if self.selected(w[0])]
        callgrind = self.callgrind_systems() if self.selected("callgrind") else []
        self.total_steps = sum(len(systems) * (1 if w.startswith("idle") else self.reps)
                               for w, systems, _ in work) + len(callgrind) + \
            (4 if self.selected("micro") else 0)
        print(f"perf: {len(work)} workloads x {len(self.lf_models) + 3} systems x {self.reps} "
              f"repetition(s), callgrind: {len(callgrind)} servers; lf models: "
              f"{', '.join(self.lf_models)}; server threads {self.threads}; pinning "
              f"{'server core 0, load core 1' if self.pin else 'none'}", file=sys.stderr, flush=True)
        for workload, systems, load in work:
            # Resident memory per idle connection does not drift like throughput: one repetition.
            self.interleave(workload, systems, load, 1 if workload.startswith("idle") else None)
        # Instruction counts do not drift either: one repetition.
        for name, threads, argv in callgrind:
            self.callgrind(name, threads, argv)
        micro = self.micro() if self.selected("micro") else {}
        meta = {
            "date": datetime.datetime.now().isoformat(timespec="seconds"),
            "command": self.args.command,
            "quick": self.quick,
            "reps": self.reps,
            "warmup_s": self.warmup,
            "duration_s": self.duration,
            "threads": self.threads,
            "mixed_threads": MIXED_THREADS,
            "mixed_size": MIXED_SIZE,
            "mixed": [spec for spec in MIXED if self.selected(spec["workload"])],
            "max_threads_flag": self.max_threads,
            "idle_connections": self.idle_connections(),
            "pinning": ("server: taskset -c 0; load generators: taskset -c 1; log_bench and "
                        "handoff_bench unpinned (2 threads)") if self.pin else "none (fewer than 2 CPUs)",
            "lf_models": self.lf_models,
            "reference": self.reference,
            "only": self.only,
            "model_flag": self.models is not None,
            "build_dir": self.build,
            "machine": self.machine(),
            "notes": self.notes,
            "tls": self.tls_meta() if self.selected("tls") else None,
            "elapsed_s": round(time.monotonic() - started, 1),
        }
        return {"meta": meta, "runs": self.runs, "micro": micro}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--build-dir", default="build/release")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=2, help="server threads (workloads 1, 2, 4, 5)")
    parser.add_argument("--reps", type=int, default=0, help="repetitions (default 1 quick, 3 full)")
    parser.add_argument("--models", default="", help="comma-separated lf models (default: all)")
    parser.add_argument("--only", default="", help="comma-separated workloads to run, each a "
                        "name or a prefix before '-' (echo, echo-16, http, callgrind, micro...); "
                        "default: all")
    parser.add_argument("--fd-limit", type=int, default=1024)
    parser.add_argument("--out", required=True, help="the results JSON file to write")
    parser.add_argument("--command", default="perf/run.sh")
    args = parser.parse_args()
    suite = Suite(args)
    try:
        results = suite.run()
    finally:
        shutil.rmtree(suite.tmp, ignore_errors=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)
    print(f"perf: results in {args.out} ({results['meta']['elapsed_s']} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
