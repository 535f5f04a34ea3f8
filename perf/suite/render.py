#!/usr/bin/env python3
"""Renders a perf suite results file (perf/results/*.json, written by run_suite.py) into
docs/perf.md, PNG plots (gnuplot) and SVG bar charts (written here, no dependency) in docs/perf/.
This script owns the whole of docs/perf.md: the microbenchmark figures are rendered here too, from
the same run.

Usage: render.py RESULTS.json [--doc docs/perf.md]
"""

import argparse
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from xml.sax.saxutils import escape

ECHO_SIZES = (("16", "16 B"), ("4k", "4 KiB"))
ECHO_CONNS = (10, 100, 1000)
# One distinct colour per system (the reference, lf, first and black).
PALETTE = ("black #e41a1c #377eb8 #4daf4a #984ea3 #ff7f00 #a65628 #f781bf #999999 #66c2a5 "
           "#b3b300 #1b9e77")


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


class Results:
    def __init__(self, data):
        self.meta = data["meta"]
        self.runs = data["runs"]
        self.micro = data.get("micro", {})
        # The default model (older results files: lf) is the reference of every ratio.
        default = self.meta.get("reference", "lf")
        models = self.meta["lf_models"]
        self.reference = default if default in models else models[0]

    def systems(self, workload):
        seen = []
        for run in self.runs:
            if run["workload"] == workload and run["system"] not in seen:
                seen.append(run["system"])
        return seen

    def values(self, workload, system, metric):
        """metric value per repetition (None where the run failed)."""
        out = {}
        for run in self.runs:
            if run["workload"] == workload and run["system"] == system:
                out[run["rep"]] = (run.get("metrics") or {}).get(metric) if "error" not in run else None
        return out

    def figure(self, workload, system, metric):
        return median(self.values(workload, system, metric).values())

    def errors(self, workload, system):
        return [r["error"] for r in self.runs
                if r["workload"] == workload and r["system"] == system and "error" in r]

    def ratio(self, workload, a, b, metric):
        """Median over repetitions of a_i / b_i (the per-pair ratios of one run)."""
        va, vb = self.values(workload, a, metric), self.values(workload, b, metric)
        pairs = [va[r] / vb[r] for r in va if r in vb and va[r] is not None and vb[r]
                 not in (None, 0)]
        return median(pairs)


def fmt_num(v, unit=""):
    if v is None:
        return "–"
    if abs(v) >= 100:
        text = f"{v:,.0f}"
    elif abs(v) >= 10:
        text = f"{v:.1f}"
    else:
        text = f"{v:.2f}"
    return text + unit


def fmt_ratio(v):
    return "–" if v is None else f"{v:.2f}x"


def system_cell(name, reference):
    return f"**{name}**" if name == reference else name


# ----- workload tables -------------------------------------------------------------------------
def echo_table(res, workload, throughput="msgs_per_s", unit="msg/s"):
    ref = res.reference
    lines = [f"| system | {unit} | p50 µs | p99 µs | p99.9 µs | {unit} vs {ref} | p99 vs {ref} |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for system in res.systems(workload):
        errs = res.errors(workload, system)
        cells = [fmt_num(res.figure(workload, system, throughput)),
                 fmt_num(res.figure(workload, system, "p50_us")),
                 fmt_num(res.figure(workload, system, "p99_us")),
                 fmt_num(res.figure(workload, system, "p999_us")),
                 fmt_ratio(res.ratio(workload, system, ref, throughput)),
                 fmt_ratio(res.ratio(workload, system, ref, "p99_us"))]
        if errs:
            cells[0] = f"error ({len(errs)}): {errs[0][:80]}" if cells[0] == "–" else \
                cells[0] + f" ({len(errs)} failed)"
        lines.append(f"| {system_cell(system, ref)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def figure_table(res, workload, header, figures, ratios, base=None):
    """One row per system: its `figures` (the first shows the error if the run failed), then its
    `ratios` to `base` (default: the reference model, which is set in bold)."""
    ref = res.reference
    base = base or ref
    lines = [header, "|---|" + "---:|" * (len(figures) + len(ratios))]
    for system in res.systems(workload):
        errs = res.errors(workload, system)
        cells = [fmt_num(res.figure(workload, system, key)) for key in figures]
        if res.figure(workload, system, figures[0]) is None:
            cells[0] = f"error: {errs[0][:80]}" if errs else "–"
        cells += [fmt_ratio(res.ratio(workload, system, base, key)) for key in ratios]
        lines.append(f"| {system_cell(system, ref)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def http_table(res, workload):
    ref = res.reference
    return figure_table(res, workload,
                        f"| system | req/s | p50 µs | p99 µs | req/s vs {ref} | p99 vs {ref} |",
                        ["req_per_s", "p50_us", "p99_us"], ["req_per_s", "p99_us"])


def redis_table(res, workload):
    ref = res.reference
    return figure_table(res, workload,
                        f"| system | SET/s | GET/s | SET p99 µs | GET p99 µs | SET vs {ref} | GET vs {ref} |",
                        ["set_per_s", "get_per_s", "set_p99_us", "get_p99_us"],
                        ["set_per_s", "get_per_s"])


def idle_table(res, workload):
    ref = res.reference
    lines = [f"| system | bytes resident per idle connection | RSS before → after (KiB) | vs {ref} |",
             "|---|---:|---:|---:|"]
    for system in res.systems(workload):
        errs = res.errors(workload, system)
        per = res.figure(workload, system, "rss_per_conn_bytes")
        first = fmt_num(per) if per is not None else f"error: {errs[0][:80]}" if errs else "–"
        before = res.figure(workload, system, "rss_before_kib")
        after = res.figure(workload, system, "rss_after_kib")
        lines.append(f"| {system_cell(system, ref)} | {first} | {fmt_num(before)} → {fmt_num(after)} | "
                     f"{fmt_ratio(res.ratio(workload, system, ref, 'rss_per_conn_bytes'))} |")
    return "\n".join(lines)


def callgrind_table(res):
    """One row per server and thread count, in the order they ran."""
    ref = res.reference
    lines = ["| system | threads | instructions/message |", "|---|---:|---:|"]
    for run in res.runs:
        if run["workload"] != "callgrind":
            continue
        per = (run.get("metrics") or {}).get("instructions_per_message")
        cell = fmt_num(per) if per is not None else f"error: {run.get('error', '')[:80]}"
        lines.append(f"| {system_cell(run['system'], ref)} | {run['threads']} | {cell} |")
    return "\n".join(lines)


# ----- mixed workloads -------------------------------------------------------------------------
# The baseline of the mixed workloads' ratios: their targets (targets.json) compare with one loop
# per thread.
MIXED_BASELINE = "reactor"


def mixed_specs(res):
    """The mixed workloads of the run (run_suite.py's MIXED, as it recorded them) that have runs."""
    return [spec for spec in res.meta.get("mixed", []) if res.systems(spec["workload"])]


def mixed_title(res, spec):
    kind = "sleep" if spec["kind"] == "sleep" else "compute"
    return (f"{spec['workload'].removeprefix('mixed-')}: {res.meta.get('mixed_threads', 4)} threads, "
            f"{spec['connections']} connections, {spec['permille']}‰ of messages {kind} "
            f"{spec['ms']} ms")


def mixed_table(res, workload):
    base = MIXED_BASELINE if MIXED_BASELINE in res.systems(workload) else None
    vs = f"vs {base}" if base else "(no reactor)"
    return figure_table(
        res, workload,
        f"| system | msg/s | victims p99 µs | victims p99.9 µs | blocked p99 µs | overall p99.9 µs | "
        f"victims p99 {vs} | msg/s {vs} | overall p99.9 {vs} |",
        ["msgs_per_s", "victims_p99_us", "victims_p999_us", "blocked_p99_us", "p999_us"],
        ["victims_p99_us", "msgs_per_s", "p999_us"], base)


def thread_growth(res, workload):
    """The systems whose thread count grew during the run: threads before, at the peak, and the
    seconds after the load until back to the base (run_suite.py's loadgen_watching_threads)."""
    rows = []
    for system in res.systems(workload):
        runs = [r for r in res.runs if r["workload"] == workload and r["system"] == system
                and "error" not in r and "threads_peak" in r.get("metrics", {})]
        grew = [r["metrics"] for r in runs if r["metrics"]["threads_peak"] > r["metrics"]["threads_base"]]
        if not grew:
            continue
        shrinks = [m.get("shrink_s") for m in grew]
        back = ", ".join("not back" if v is None else f"{v:.1f}" for v in shrinks)
        rows.append(f"| {system} | {grew[0]['threads_base']} | "
                    f"{', '.join(str(m['threads_peak']) for m in grew)} | {back} |")
    if not rows:
        return ""
    return "\n".join([
        "Threads of the process (`/proc/PID/task`: the ThreadSet's plus the main, supervisor and "
        "logger threads) before the load, at its peak, and the seconds after the load stopped until "
        "the count was back to where it started (one figure per repetition):\n",
        "| system | threads before | at the peak | back after (s) |", "|---|---:|---:|---:|", *rows, ""])


def svg_bars(title, rows, unit, path):
    """A horizontal bar chart, log scale, one bar per (label, value); None values are left out.
    Written by hand so that rendering needs nothing but Python."""
    rows = [(label, v) for label, v in rows if v is not None and v > 0]
    if not rows:
        return False
    label_w, bar_w, row_h, top = 190, 520, 22, 46
    low = 10 ** math.floor(math.log10(min(v for _, v in rows)))
    high = 10 ** math.ceil(math.log10(max(v for _, v in rows)))
    high = high * 10 if high == low else high

    def x(v):
        return label_w + bar_w * (math.log10(v) - math.log10(low)) / (math.log10(high) - math.log10(low))

    height = top + row_h * len(rows) + 30
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 90}" height="{height}" '
           'font-family="sans-serif" font-size="12">',
           f'<rect width="100%" height="100%" fill="white"/>',
           f'<text x="10" y="20" font-size="14" font-weight="bold">{escape(title)}</text>']
    decade = low
    while decade <= high:
        gx = x(decade)
        out.append(f'<line x1="{gx:.1f}" y1="{top - 8}" x2="{gx:.1f}" y2="{height - 26}" stroke="#ddd"/>')
        out.append(f'<text x="{gx:.1f}" y="{height - 10}" text-anchor="middle">{fmt_num(decade)} {unit}</text>')
        decade *= 10
    for i, (label, v) in enumerate(rows):
        y = top + i * row_h
        colour = "#e41a1c" if label.startswith(MIXED_BASELINE) else "#377eb8"
        out.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{escape(label)}</text>')
        out.append(f'<rect x="{label_w}" y="{y + 3}" width="{max(x(v) - label_w, 1):.1f}" height="{row_h - 6}" '
                   f'fill="{colour}"/>')
        out.append(f'<text x="{x(v) + 4:.1f}" y="{y + 14}">{fmt_num(v)}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    return True


def mixed_plots(res, out_dir):
    """An SVG of the victims' p99 per system for each mixed workload; returns {workload: path}."""
    made = {}
    for spec in mixed_specs(res):
        w = spec["workload"]
        rows = [(system, res.figure(w, system, "victims_p99_us")) for system in res.systems(w)]
        if not any(v for _, v in rows):
            continue
        os.makedirs(out_dir, exist_ok=True)
        name = f"{w}-victims-p99.svg"
        if svg_bars(f"{mixed_title(res, spec)}: victims' p99 (µs, log scale; lower is better)",
                    rows, "µs", os.path.join(out_dir, name)):
            made[w] = f"perf/{name}"
    return made


def mixed_targets(res, add):
    """The targets of the mixed workloads: the reference model's victims against reactor; for
    starvation the elastic thread set against fixed ones (throughput)."""
    ref = res.reference

    def ratio(w, a, b, metric):
        return res.ratio(w, a, b, metric) if a in res.systems(w) and b in res.systems(w) else None

    def missing(w):
        return "not in this run" if not res.systems(w) else f"{MIXED_BASELINE} not in this run"

    w = "mixed-light"
    t = TARGETS[w]
    p99 = ratio(w, ref, MIXED_BASELINE, "victims_p99_us")
    tput = ratio(w, ref, MIXED_BASELINE, "msgs_per_s")
    p999 = ratio(w, ref, MIXED_BASELINE, "p999_us")
    ok = None if None in (p99, tput, p999) else (p99 <= t["max_victims_p99_ratio"]
                                                 and tput >= t["min_throughput_ratio"]
                                                 and p999 <= t["max_p999_ratio"])
    add(t["workload"],
        f"lf victims' p99 <= {t['max_victims_p99_ratio']}x {MIXED_BASELINE}'s, throughput >= "
        f"{t['min_throughput_ratio']}x, overall p99.9 <= {t['max_p999_ratio']}x",
        missing(w) if p99 is None else
        f"victims p99 {fmt_ratio(p99)}, throughput {fmt_ratio(tput)}, p99.9 {fmt_ratio(p999)}", ok)
    for w in ("mixed-heavy", "mixed-cpu-heavy"):
        t = TARGETS[w]
        r = ratio(w, ref, MIXED_BASELINE, "victims_p99_us")
        limit = t["max_victims_p99_ratio"]
        add(t["workload"], f"lf victims' p99 <= {limit}x {MIXED_BASELINE}'s",
            missing(w) if r is None else fmt_ratio(r), None if r is None else r <= limit)
    w = "mixed-starvation"
    t = TARGETS[w]
    elastic, fixed4, fixed16 = f"{ref} elastic 4", f"{ref} fixed 4", f"{ref} fixed 16"
    r4 = ratio(w, elastic, fixed4, "msgs_per_s")
    r16 = ratio(w, elastic, fixed16, "msgs_per_s")
    # Seconds until the elastic set was back to its size before the load, every repetition.
    shrinks = [(r.get("metrics") or {}).get("shrink_s", "unmeasured") for r in res.runs
               if r["workload"] == w and r["system"] == elastic and "error" not in r]
    shrunk = [v for v in shrinks if isinstance(v, (int, float))]
    back = (None if not shrinks or "unmeasured" in shrinks else
            len(shrunk) == len(shrinks) and max(shrunk) <= t["max_shrink_s"])
    ok = None if r4 is None or r16 is None or back is None else (
        r4 >= t["min_ratio_vs_fixed_4"] and r16 >= t["min_ratio_vs_fixed_16"] and back)
    measured = ("not in this run" if not res.systems(w) else
                "no --max-threads in this build" if elastic not in res.systems(w) else
                f"{fmt_ratio(r4)} vs fixed 4, {fmt_ratio(r16)} vs fixed 16, back to its threads "
                + ("in (not measured)" if back is None else
                   f"in {', '.join('not back' if v is None else f'{v:.1f}' for v in shrinks)} s"))
    add(t["workload"],
        f"elastic lf (4 threads, may grow) >= {t['min_ratio_vs_fixed_4']}x lf fixed at 4 and >= "
        f"{t['min_ratio_vs_fixed_16']}x lf fixed at 16, msg/s; back to 4 threads within "
        f"{t['max_shrink_s']} s of the load's end",
        measured, ok)


# ----- microbenchmarks -------------------------------------------------------------------------
def bench_rows(res, program):
    return (res.micro.get(program) or {}).get("benchmarks", [])


def bench_find(res, program, pattern):
    return [b for b in bench_rows(res, program) if re.search(pattern, b["name"])
            and b.get("run_type", "iteration") == "iteration"]


def ns_of(b):
    scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[b.get("time_unit", "ns")]
    return b["real_time"] * scale


def micro_table(res, program):
    rows = bench_rows(res, program)
    if not rows:
        err = (res.micro.get(program) or {}).get("error", "not run")
        return f"_{program}: {err}_"
    counters = []
    for b in rows:
        for key in b:
            if key.endswith("_ns") and key not in counters:
                counters.append(key)
    def row(cells):
        return "| " + " | ".join(cells) + " |"

    lines = [row(["benchmark", "real time per iteration", "items/s"] + counters),
             row(["---"] + ["---:"] * (2 + len(counters)))]
    for b in rows:
        if b.get("run_type", "iteration") != "iteration":
            continue
        lines.append(row([f"`{b['name']}`", fmt_num(ns_of(b)) + " ns",
                          fmt_num(b.get("items_per_second"))]
                         + [fmt_num(b.get(c)) for c in counters]))
    return "\n".join(lines)


# ----- targets ---------------------------------------------------------------------------------
# The thresholds live in targets.json, beside this script (docs/perf.md, "Targets", lists them).
TARGETS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "targets.json")


def load_targets(path=TARGETS_FILE):
    with open(path) as f:
        return {t["id"]: t for t in json.load(f)["targets"]}


TARGETS = load_targets()


def verdict(ok):
    return "–" if ok is None else ("**met**" if ok else "**missed**")


def targets_source():
    """Where the targets come from, and what each compares."""
    lines = [f"The targets are read from `perf/suite/{os.path.basename(TARGETS_FILE)}` (change them "
             "there); each compares:\n"]
    lines += [f"- **{t['workload']}**: {t['compares']}" for t in TARGETS.values()]
    return "\n".join(lines) + "\n"


def fmt_bytes(n):
    return f"{n // 1024} KiB" if n % 1024 == 0 else f"{n} B"


def targets(res):
    ref = res.reference
    rows = []

    def add(workload, target, measured, ok):
        rows.append(f"| {workload} | {target} | {measured} | {verdict(ok)} |")

    def model(name):
        return name if name in res.systems("echo-16-100") else None

    t = TARGETS["echo-callgrind"]
    for threads, limit in sorted((int(k), v) for k, v in t["max_instructions_per_message"].items()):
        per = next(((r.get("metrics") or {}).get("instructions_per_message")
                    for r in res.runs if r["workload"] == "callgrind" and r["system"] == ref
                    and r.get("threads") == threads), None)
        add(f"{t['workload']}, {threads} thread(s)",
            f"{ref} <= {limit} user-space instructions per message",
            fmt_num(per), None if per is None else per <= limit)

    w = "echo-16-100"
    t = TARGETS["echo-vs-epoll"]
    floor = res.ratio(w, ref, "epoll floor", "msgs_per_s")
    add(t["workload"], f"lf >= {t['min_ratio']}x raw epoll floor", fmt_ratio(floor),
        None if floor is None else floor >= t["min_ratio"])
    t = TARGETS["echo-vs-asio"]
    asio = [s for s in res.systems(w) if s.startswith("asio")]
    asio_ratios = [(s, res.ratio(w, ref, s, "msgs_per_s")) for s in asio]
    asio_ratios = [(s, r) for s, r in asio_ratios if r is not None]
    if asio_ratios:
        worst = min(asio_ratios, key=lambda x: x[1])
        add(t["workload"], f"lf >= {t['min_ratio']}x Asio, equal threads (each variant)",
            ", ".join(f"{fmt_ratio(r)} vs {s}" for s, r in asio_ratios), worst[1] >= t["min_ratio"])
    t = TARGETS["echo-vs-reactor"]
    reactor = model("reactor")
    r = res.ratio(w, ref, reactor, "msgs_per_s") if reactor else None
    add(t["workload"], f"lf >= {t['min_ratio']}x one-loop-per-thread (reactor)",
        fmt_ratio(r) if reactor else "reactor model not in this build",
        None if r is None else r >= t["min_ratio"])

    w = "mixed-100"  # results before the mixed workloads had victims
    t = TARGETS["mixed-blocking"]
    target = (f"lf p99 <= {t['max_p99_ratio']}x reactor p99, throughput >= "
              f"{t['min_throughput_ratio']}x")
    if not res.systems(w):
        pass
    elif reactor and reactor in res.systems(w):
        p99 = res.ratio(w, ref, reactor, "p99_us")
        tput = res.ratio(w, ref, reactor, "msgs_per_s")
        ok = None if p99 is None or tput is None else (p99 <= t["max_p99_ratio"]
                                                        and tput >= t["min_throughput_ratio"])
        add(t["workload"], target, f"p99 {fmt_ratio(p99)}, throughput {fmt_ratio(tput)}", ok)
    else:
        add(t["workload"], target, "reactor model not in this build", None)
    mixed_targets(res, add)

    t = TARGETS["http"]
    for w in ("http-50", "http-500"):
        nginx = next((s for s in res.systems(w) if s.startswith("nginx")), None)
        r = res.ratio(w, ref, nginx, "req_per_s") if nginx else None
        add(f"{t['workload']}, {w.split('-')[1]} conns", f"lf >= {t['min_ratio']}x {nginx or 'nginx'}",
            fmt_ratio(r), None if r is None else r >= t["min_ratio"])

    t = TARGETS["redis"]
    for w, label in (("redis-50", "no pipelining"), ("redis-50-p16", "-P 16")):
        rs = res.ratio(w, ref, "redis-server", "set_per_s")
        rg = res.ratio(w, ref, "redis-server", "get_per_s")
        ok = None if rs is None or rg is None else (rs >= t["min_ratio"] and rg >= t["min_ratio"])
        add(f"{t['workload']}, {label}", f"lf >= {t['min_ratio']}x redis-server",
            f"SET {fmt_ratio(rs)}, GET {fmt_ratio(rg)}", ok)

    if res.systems("tls-https-50"):
        tls_targets(res, add)

    t = TARGETS["idle"]
    limit = t["max_bytes_per_connection"]
    per = res.figure("idle-10k", ref, "rss_per_conn_bytes")
    add(f"6. {res.meta.get('idle_connections', 10000):,} idle connections",
        f"lf <= {fmt_bytes(limit)} resident per connection",
        fmt_num(per, " B"), None if per is None else per <= limit)

    t = TARGETS["logger-throughput"]
    target = f"lf >= {t['min_ratio']}x spdlog async messages/s"
    for threads in (1, 2):
        lf = bench_find(res, "log_bench", rf"Throughput<Lf>/double:0/.*threads:{threads}$")
        sp = bench_find(res, "log_bench", rf"Throughput<Spdlog>/double:0/.*threads:{threads}$")
        if lf and sp and lf[0].get("items_per_second") and sp[0].get("items_per_second"):
            r = lf[0]["items_per_second"] / sp[0]["items_per_second"]
            add(f"{t['workload']}, {threads} producer thread(s)", target,
                f"{fmt_ratio(r)} ({fmt_num(lf[0]['items_per_second'])} vs "
                f"{fmt_num(sp[0]['items_per_second'])} msg/s)", r >= t["min_ratio"])
        else:
            add(f"{t['workload']}, {threads} producer thread(s)", target, "not measured", None)
    t = TARGETS["logger-latency"]
    lat = bench_find(res, "log_bench", r"Latency<Lf>/double:0/.*threads:1$")
    p50 = lat[0].get("p50_ns") if lat else None
    # One decimal: a figure at the threshold must show on which side of it it lies.
    add(t["workload"], f"median call <= {t['max_median_ns']} ns",
        "–" if p50 is None else f"{p50:,.1f} ns",
        None if p50 is None else p50 <= t["max_median_ns"])

    t = TARGETS["timer"]
    sc = bench_find(res, "timer_bench", r"^BM_ScheduleCancel/1000000")
    ns = ns_of(sc[0]) if sc else None
    add(t["workload"], f"<= {t['max_ns']} ns per schedule + cancel",
        "–" if ns is None else f"{ns:,.2f} ns", None if ns is None else ns <= t["max_ns"])

    return "\n".join(["| workload | target | measured (ratio = lf / peer, median of pairs) | verdict |",
                      "|---|---|---|---|"] + rows)


# ----- TLS ---------------------------------------------------------------------------------------
TLS_WORKLOADS = (
    ("tls-https-50", "HTTPS keep-alive GET /hello, 50 connections (wrk)", "req_per_s", "req/s",
     "cpu_us_per_op", "server CPU µs/request"),
    ("tls-handshake-full", "full handshakes: a new connection per GET /hello, no resumption "
     "(`openssl s_time -new`)", "conn_per_s", "connections/s", "cpu_us_per_op",
     "server CPU µs/connection"),
    ("tls-handshake-resumed", "resumed handshakes: a new connection per GET /hello with the "
     "first connection's session ticket (`openssl s_time -reuse`)", "conn_per_s",
     "connections/s", "cpu_us_per_op", "server CPU µs/connection"),
    ("tls-bulk-64m", "a 64 MiB static file, one download at a time (curl)", "mib_per_s", "MiB/s",
     "cpu_ms_per_mib", "server CPU ms/MiB"),
)


def tls_peer(res, workload):
    """nginx with as many workers as lf has threads (the comparison the targets name)."""
    systems = res.systems(workload)
    same = f"nginx {res.meta.get('threads')} workers"
    if same in systems:
        return same
    return next((s for s in systems if s.startswith("nginx")), None)


def tls_one_thread_pair(res, workload):
    """(lf 1 thread, nginx 1 worker) when the run measured them, else None."""
    pair = (f"{res.reference} 1 thread", "nginx 1 worker")
    return pair if all(s in res.systems(workload) for s in pair) else None


def tls_targets(res, add):
    ref = res.reference
    t = TARGETS["tls-https"]
    r = res.ratio("tls-https-50", ref, tls_peer(res, "tls-https-50"), "req_per_s")
    add(t["workload"], f"lf >= {t['min_ratio']}x nginx", fmt_ratio(r),
        None if r is None else r >= t["min_ratio"])
    t = TARGETS["tls-handshake"]
    for w, label in (("tls-handshake-full", "full"), ("tls-handshake-resumed", "resumed")):
        r = res.ratio(w, ref, tls_peer(res, w), "conn_per_s")
        add(f"{t['workload']}, {label}", f"lf >= {t['min_ratio']}x nginx", fmt_ratio(r),
            None if r is None else r >= t["min_ratio"])
    t = TARGETS["tls-bulk"]
    r = res.ratio("tls-bulk-64m", ref, tls_peer(res, "tls-bulk-64m"), "mib_per_s")
    add(t["workload"], "reported (no target)", fmt_ratio(r), None)


def render_tls(res, w):
    ref = res.reference
    tls = res.meta.get("tls") or {}
    w("## TLS: lf-http against nginx\n")
    if tls.get("kernel_tls"):
        ktls = ("Kernel TLS is available; nginx is not set up for it (no `ssl_conf_command Options "
                "KTLS`), so its static file goes through read + SSL_write.")
    else:
        ktls = ("Kernel TLS is not available (`/proc/sys/net/ipv4/tcp_available_ulp`: "
                f"{tls.get('tcp_available_ulp') or 'empty'}), so the static file goes through "
                "read + SSL_write in both servers; nginx's `sendfile` does not apply to TLS "
                "without it.")
    w(f"Both servers use the same self-signed ECDSA P-256 certificate and run {res.meta['threads']} "
      f"threads (nginx: workers) on core 0; every client runs on core 1 and is held to "
      f"{tls.get('protocol', 'TLSv1.3')} with {tls.get('cipher', '?')} and {tls.get('group', '?')} "
      "key exchange by an OpenSSL configuration file (`OPENSSL_CONF`); nginx allows only that "
      "cipher (`ssl_conf_command Ciphersuites`), lf takes the client's choice. Each measurement "
      f"lasts {tls.get('seconds', '?')} s (the bulk one: a few downloads), systems alternate "
      "within each repetition, and the ratio is the median of per-pair ratios. Server CPU is the "
      "user + system time of the server's processes during the measurement, divided by the "
      "requests, connections or MiB served: unlike the rates, it does not depend on how fast the "
      f"client (on the other core) is. {ktls} The handshake workloads run one connection at a "
      "time (s_time has no concurrency), so the client's own handshake work and the loopback round "
      "trips are in every connection's time; wrk, which could open connections in parallel, "
      f"cannot resume sessions. Tools: {tls.get('openssl', '?').split(' (')[0]}; "
      f"{tls.get('curl', '?').split(' (')[0]}.\n")
    if tls.get("command"):
        w(f"Measured by `{tls['command']}` on {tls.get('date', '?')}.\n")
    summary = []
    for workload, title, rate, unit, cpu, cpu_unit in TLS_WORKLOADS:
        peer = tls_peer(res, workload)
        speed = res.ratio(workload, ref, peer, rate) if peer else None
        work = res.ratio(workload, ref, peer, cpu) if peer else None
        if speed is not None:
            summary.append(f"| {title.split(' (')[0]} | {fmt_ratio(speed)} | {fmt_ratio(work)} |")
    one = []
    for workload, title, rate, unit, cpu, cpu_unit in TLS_WORKLOADS:
        pair = tls_one_thread_pair(res, workload)
        if pair:
            speed, work = res.ratio(workload, *pair, rate), res.ratio(workload, *pair, cpu)
            one.append(f"| {title.split(' (')[0]} | {fmt_ratio(speed)} | {fmt_ratio(work)} |")
    for intro, rows in (
            (f"{ref} / nginx, medians of the per-pair ratios (above 1: {ref} serves more, or "
             "spends more CPU per operation):\n", summary),
            (f"With one thread each ({ref} 1 thread / nginx 1 worker, same core), where no event "
             "passes between threads:\n", one)):
        if rows:
            w(intro)
            w("| workload | rate | server CPU per operation |\n|---|---:|---:|")
            w("\n".join(rows))
            w("")
    for workload, title, rate, unit, cpu, cpu_unit in TLS_WORKLOADS:
        if not res.systems(workload):
            continue
        w(f"### {title}\n")
        w(figure_table(res, workload,
                       f"| system | {unit} | {cpu_unit} | {unit} vs {ref} | CPU vs {ref} |",
                       [rate, cpu], [rate, cpu]))
        w("")


# ----- plots -----------------------------------------------------------------------------------
def plots(res, out_dir):
    """PNG plots of throughput and p99 against connection count; returns {key: relative path}."""
    if not shutil.which("gnuplot"):
        return {}
    os.makedirs(out_dir, exist_ok=True)
    made = {}
    work = tempfile.mkdtemp(prefix="lf-plot-")
    try:
        for tag, label in ECHO_SIZES:
            systems = res.systems(f"echo-{tag}-10")
            for metric, title, ylabel in (("msgs_per_s", "throughput", "messages/s"),
                                          ("p99_us", "p99 latency", "p99 latency (µs)")):
                data = os.path.join(work, f"{tag}-{metric}.dat")
                with open(data, "w") as f:
                    f.write("conns\t" + "\t".join(f'"{s}"' for s in systems) + "\n")
                    for c in ECHO_CONNS:
                        vals = [res.figure(f"echo-{tag}-{c}", s, metric) for s in systems]
                        f.write(f"{c}\t" + "\t".join("NaN" if v is None else f"{v:.3f}" for v in vals) + "\n")
                name = f"echo-{tag}-{'throughput' if metric == 'msgs_per_s' else 'p99'}.png"
                script = os.path.join(work, f"{tag}-{metric}.gp")
                with open(script, "w") as f:
                    f.write(f"""set terminal pngcairo size 800,450 noenhanced font 'sans,10'
set output '{os.path.join(out_dir, name)}'
set title 'echo {label}: {title} against connections (closed loop, depth 1)'
set logscale x
{'set logscale y' if metric == 'p99_us' else ''}
set xlabel 'connections'
set ylabel '{ylabel}'
set key outside right
set grid
set xtics (10, 100, 1000)
set xrange [8:1250]
colors = '{PALETTE}'
plot for [i=2:{len(systems) + 1}] '{data}' using 1:i with linespoints lw (i == 2 ? 3 : 2) \\
  lc rgb word(colors, i - 1) title columnheader(i)
""")
                run = subprocess.run(["gnuplot", script], capture_output=True, text=True)
                if run.returncode == 0:
                    made[(tag, metric)] = f"perf/{name}"
                else:
                    print(f"render: gnuplot failed: {run.stderr.strip()[:300]}", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return made


# ----- the document ----------------------------------------------------------------------------
def render(res, results_path, doc_path):
    meta = res.meta
    machine = meta["machine"]
    pictures = plots(res, os.path.join(os.path.dirname(doc_path), "perf"))
    mixed_pictures = mixed_plots(res, os.path.join(os.path.dirname(doc_path), "perf"))
    out = []
    w = out.append
    w("# lf performance\n")
    w(f"Generated by `{meta['command'].strip()}` on {meta['date']} "
      f"({'quick mode' if meta['quick'] else 'full mode'}, {meta['elapsed_s']:.0f} s) from "
      f"`{os.path.relpath(results_path, os.path.dirname(os.path.dirname(os.path.abspath(doc_path))))}`. "
      "This file is rewritten by every run of `perf/run.sh`; do not edit it by hand.\n")
    w("**Read the ratios, not the absolute figures.** The machine is a shared 2-vCPU virtual "
      "machine: absolute figures drift by 10-30% between runs. Each ratio is the median of "
      "per-pair ratios measured side by side in one run (every repetition runs every system once, "
      "in alternating order).\n")
    w("## Machine and method\n")
    w(f"- machine: {machine['nproc']} CPUs, {machine['cpu']}, Linux {machine['kernel']}, {machine['os']}")
    w(f"- compiler: {machine['compiler']}; peers: {machine['nginx']}, {machine['redis']}, "
      f"{machine['wrk'].split(' [')[0]}")
    w(f"- pinning: {meta['pinning']}")
    w(f"- repetitions: {meta['reps']} per system and workload; loadgen warm-up {meta['warmup_s']} s, "
      f"measured {meta['duration_s']} s per run; every server is started fresh for each run")
    w(f"- server threads: {meta['threads']} (echo, bulk, HTTP, Redis workloads; nginx gets as many "
      f"workers; redis-server is single-threaded as shipped); {meta['mixed_threads']} in the mixed "
      "workload for every multi-threaded system. `single` and the epoll floor always use one thread.")
    ref = res.reference
    w(f"- lf models measured: {', '.join(meta['lf_models'])}; **{ref}** (bold), the default model, "
      f"is the reference of every ratio. Columns \"vs {ref}\" are system / {ref}: above 1 the "
      f"system is faster (throughput) or slower (latency) than {ref}.")
    w("- the Leader/Followers variants (docs/architecture.md): `lf` EPOLLONESHOT, re-armed after "
      "every event; `lf-et` edge triggered, armed once; `lf-spin` a new follower spins before it "
      "sleeps; `lf-handoff` the leader hands each event to a waiting follower and keeps leading "
      "(POSA2's event hand-off). `reactor` is muduo's one loop per thread (plus an acceptor loop), "
      "`hsha` half-sync/half-async (one I/O thread, a queue, N workers), `single` one reactor "
      "thread.")
    w("- echo load: `perf/loadgen` (closed loop, one message in flight per connection, every echoed "
      "byte verified; a run with any mismatch counts as failed). HTTP: wrk, 1 thread. Redis: "
      "redis-benchmark `-t set,get`, 50 clients.")
    w("- every server thread shares core 0 with the others: a follower that spins (`lf-spin`) takes "
      "CPU time from the thread doing the work, which a machine with a core per thread would not "
      "show; threads beyond one mostly add hand-offs here, so the single-threaded systems have an "
      "edge under this pinning.")
    for note in meta.get("notes", []):
        w(f"- note: {note}")
    w("")
    w("## Targets\n")
    w(targets_source())
    w(targets(res))
    w("")

    w("## 1. Echo, closed loop\n")
    for tag, label in ECHO_SIZES:
        for metric in ("msgs_per_s", "p99_us"):
            if (tag, metric) in pictures:
                w(f"![echo {label} {metric}]({pictures[(tag, metric)]})")
        w("")
        for conns in ECHO_CONNS:
            workload = f"echo-{tag}-{conns}"
            if res.systems(workload):
                w(f"### echo {label}, {conns} connections\n")
                w(echo_table(res, workload))
                w("")
    if res.systems("callgrind"):
        # the load perf/callgrind.sh applied, as it reported it
        ok = next((r for r in res.runs if r["workload"] == "callgrind" and "error" not in r), None)
        load = f", {ok['connections']} connections, {ok['size']} B" if ok else ""
        runs = f"a {ok['load_s'][0]} s and a {ok['load_s'][1]} s" if ok else "a short and a long"
        w(f"### echo: user-space instructions per message (callgrind{load})\n")
        w("On this shared, noisy 2-core machine timings drift by 10-30% between runs, while the "
          "instruction counts of a server with one thread repeat to within about 2%: callgrind "
          "counts are the stable evidence here of each system's own work per message. With more "
          "threads they repeat less closely, as valgrind's scheduling of the threads varies (up "
          "to about 10% for `lf-spin` and for Asio's shared io_context). "
          f"`perf/callgrind.sh` runs each server under `valgrind --tool=callgrind` twice, with {runs} "
          "loadgen run (no warm-up), and divides the difference of the two instruction totals by "
          "the difference of the echoed messages, so start-up and shutdown cancel out. Only the "
          "server's user-space instructions count: system calls and the kernel's TCP work do not, "
          "nor do cache misses or the wait for a woken thread. Valgrind runs one thread at a time "
          "and slows the server far below the load, so a wait for events usually finds many "
          "connections ready; the multi-threaded rows include the instructions of hand-offs "
          "between threads (and `lf-spin`'s spinning). The threads column is the server's "
          "`--threads` (`reactor` adds its acceptor loop, `hsha` its I/O thread); `single` and the "
          "epoll floor always run one.\n")
        w(callgrind_table(res))
        w("")
        w("What keeps lf's count down is one ownership rule (docs/architecture.md, \"Who owns a "
          "connection\"): the thread running a connection's hooks owns its buffers and state, "
          "with no lock; `send()` from the connection's own hooks appends to its output "
          "directly, while `send()` from other threads goes to a small locked inbox that the "
          "owner empties when it runs. A connection borrows the running thread's spare buffers "
          "while it has input or output and gives them back when they are empty, so idle "
          "connections hold no buffer and a steady flow of small messages allocates nothing "
          "(tests/alloc_free_test.cc). Handler authors: touch a connection's state only from its "
          "own hooks; from anywhere else use `send`, `shutdown`, `force_close`, "
          "`pause_reading`, `deliver_buffered_input` and the read-only `output_bytes`, "
          "`output_full`, `connected`.\n")
    w("## 2. Echo bulk, 64 KiB messages, 10 connections\n")
    w(echo_table(res, "bulk-64k-10", "mib_per_s", "MiB/s"))
    w("")
    if res.systems("mixed-100"):  # results from before the mixed workloads had victims
        w("## 3. Mixed: 1% of messages block the handler for 2 ms, 100 connections, 16 B\n")
        w("Every system runs 4 threads (the epoll floor and `single`: 1) with `--block-permille 10 "
          "--block-ms 2`. Under one loop per thread a blocked handler stalls every connection of its "
          "loop; under Leader/Followers only the blocked thread's own connection waits.\n")
        w(echo_table(res, "mixed-100"))
        w("")
    if mixed_specs(res):
        render_mixed(res, w, mixed_pictures)
    w("## 4. HTTP/1.1 keep-alive plaintext (wrk, GET /hello)\n")
    for conns in (50, 500):
        w(f"### {conns} connections\n")
        w(http_table(res, f"http-{conns}"))
        w("")
    w("## 5. Redis protocol, redis-benchmark, 50 clients\n")
    for workload, label in (("redis-50", "no pipelining"), ("redis-50-p16", "`-P 16`")):
        w(f"### {label}\n")
        w(redis_table(res, workload))
        w("")
    if res.systems("tls-https-50"):
        render_tls(res, w)
    w(f"## 6. {meta.get('idle_connections', 10000):,} idle connections\n")
    w("Server resident memory (VmRSS) after every connection echoed one 16 B message and went "
      "idle, minus before; kernel socket memory is not included.\n")
    w(idle_table(res, "idle-10k"))
    w("")
    w("## 7. Logger (lf against spdlog's async logger)\n")
    w(micro_table(res, "log_bench"))
    w("")
    w("## 8. Timer wheel\n")
    w(micro_table(res, "timer_bench"))
    w("")
    w("## Synchronizer hand-off\n")
    w("Two threads pass the leader token back and forth; items/s counts hand-offs. The argument is "
      "how many times a new follower polls before it sleeps on its futex (0: always a wake-up of a "
      "sleeping thread).\n")
    rows = bench_find(res, "handoff_bench", ".")
    if rows:
        w("| benchmark | ns per hand-off |\n|---|---:|")
        for b in rows:
            ips = b.get("items_per_second")
            w(f"| `{b['name']}` | {fmt_num(1e9 / ips if ips else None)} |")
    else:
        w(micro_table(res, "handoff_bench"))
    w("")
    w("## Buffer\n")
    w(micro_table(res, "buffer_bench"))
    w("")
    failed = [r for r in res.runs if "error" in r]
    if failed:
        w("## Failed runs\n")
        for r in failed:
            w(f"- {r['workload']} / {r['system']} / repetition {r['rep'] + 1}: {r['error'][:300]}")
        w("")
    with open(doc_path, "w") as f:
        f.write("\n".join(out))


def render_mixed(res, w, pictures):
    w("## 3. Mixed workloads: what blocked handlers cost the other messages\n")
    w(f"The client chooses which messages block: loadgen `--block-permille P --block-ms D "
      f"--block-kind sleep|compute` marks P of every 1000 {res.meta.get('mixed_size', 16)} B "
      "messages, spread evenly, in the message's first byte; the server runs with `--client-blocks "
      "--block-ms D` and, before it echoes a marked message, sleeps D ms (a stand-in for a "
      "blocking call: a database, a disk) or computes for D ms without sleeping (a CPU-heavy "
      "request). The unmarked messages are the **victims**: they ask for no waiting, so whatever "
      "they wait beyond an echo is what the server's way of sharing its threads makes them pay for "
      "the blocked ones: a connection stuck behind a blocked handler on its loop (one loop per "
      "thread), a queue whose workers are all busy (half-sync/half-async), or no free thread at "
      "all. The overall percentiles mix the victims with the blocked messages, whose own latency "
      "is at least D by construction (with 1% blocked, the overall p99 is about D whatever the "
      "server does), so the victims and the blocked messages are reported apart; loadgen fails a "
      "run in which a marked message came back sooner than D (a server that did not block it).\n")
    w(f"Every system runs {res.meta.get('mixed_threads', 4)} threads (`single`: 1); the epoll "
      f"floor is left out. Ratios are against `{MIXED_BASELINE}` (one loop per thread), the "
      "baseline of the targets; starvation also runs the reference model with a fixed thread "
      "set (`--max-threads` equal to `--threads`, 4 and 16) and an elastic one (`--threads 4`, "
      "allowed to grow), when lf-echo has `--max-threads`.\n")
    for spec in mixed_specs(res):
        workload = spec["workload"]
        w(f"### {mixed_title(res, spec)}\n")
        if workload in pictures:
            w(f"![{workload}: victims' p99 per system]({pictures[workload]})\n")
        w(mixed_table(res, workload))
        growth = thread_growth(res, workload)
        if growth:
            w(growth)
        w("")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("results")
    parser.add_argument("--doc", default="docs/perf.md")
    args = parser.parse_args()
    with open(args.results) as f:
        res = Results(json.load(f))
    render(res, os.path.abspath(args.results), os.path.abspath(args.doc))
    print(f"perf: wrote {args.doc}", file=sys.stderr)


if __name__ == "__main__":
    main()
