"""The cluster measured (issue 14): nginx's cache, one node against three, votes with and without the replica.

    .venv/bin/python -m bench.scaleout            # figures into docs/performance.md (between the markers)
    .venv/bin/python -m bench.scaleout --rounds 1 --seconds 3 --no-write

It starts its own cluster (deploy/cluster/cluster.py, as `make cluster`; the page cache inside the app off, so
a request past nginx renders the listing) and measures with wrk on the same 2 cores, rounds interleaved:

1. **/news/ from nginx's cache vs the same bytes as a static file** served by the same nginx (a location the
   benchmark adds): req/s of each, the ratio (target ≥ 80 %).
2. **The listing past the cache with 1 node vs 3 nodes** (nginx's upstream reloaded between rounds; the
   requests carry the `rulecenter_wrote` cookie of a position every replica has, so nginx passes them on and
   the app reads from the replica): requests per CPU-second of the app nodes' processes (granian), the ratio
   3 ÷ 1 (target ≥ 90 %: a node adds no cost per request — shared database, Redis and locks included).
   On 2 cores raw throughput cannot grow with nodes; the CPU per request shows what they cost.
3. **Votes through nginx with the replica attached vs without it** (the nodes restarted without
   `DATABASE_REPLICA_URLS` and the replica stopped): votes/s, CPU per vote of the app nodes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from bench.faults import ROOT, cluster_module, start_with_voters

DOC = ROOT / "docs" / "performance.md"
START = "<!-- bench:scaleout:start -->"
END = "<!-- bench:scaleout:end -->"
CLK_TCK = os.sysconf("SC_CLK_TCK")

VOTE_SCRIPT = r"""
tokens = {}
counter = 0
function init(args)
  for line in io.lines(args[1]) do tokens[#tokens + 1] = line end
  path = args[2]
end
function request()
  counter = counter + 1
  local token = tokens[(counter % #tokens) + 1]
  local body = '{"choice": "support", "reason": "scaleout ' .. counter .. '"}'
  return wrk.format("POST", path, {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end
"""


def _group_cpu(pgids: set[int]) -> float:
    """User + system CPU seconds of every process in these process groups (the app nodes), from /proc."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) in pgids:  # pgrp
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLK_TCK


def wrk(url: str, seconds: float, *options: str, args: tuple[str, ...] = ()) -> tuple[float, int]:
    """wrk's req/s and request count; `args` go to the Lua script (after the URL and `--`)."""
    out = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{seconds:g}s", *options, url, *(("--", *args) if args else ())],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    requests = int(re.search(r"(\d+) requests in", out)[1])  # type: ignore[index]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        raise RuntimeError(f"{url}: {bad[1]} answers were not 2xx/3xx")
    return rate, requests


class Bench:
    def __init__(self, seconds: float, rounds: int) -> None:
        self.cluster = cluster_module.Cluster()
        self.seconds = seconds
        self.rounds = rounds
        self.base = ""

    def start(self) -> None:
        # Past nginx, the listing is rendered: the application's own page cache off.
        self.base, self.facts = start_with_voters(self.cluster, RULECENTER_PAGE_CACHE_SECONDS="0")

    def app_pgids(self) -> set[int]:
        return {pid for name, pid in self.cluster.state["pids"].items() if name.startswith("node")}

    def cached_vs_static(self) -> dict:
        prefix = self.cluster.nginx_prefix()
        body = httpx.get(self.base + "/news/").content
        (prefix / "static-copy").mkdir(exist_ok=True)
        (prefix / "static-copy" / "news.html").write_bytes(body)
        (prefix / "extra" / "static-copy.conf").write_text(
            f"location = /static-copy/news.html {{ root {prefix}; default_type text/html; }}\n"
        )
        self.cluster.nginx_reload()
        for path in ("/news/", "/static-copy/news.html"):
            wrk(self.base + path, 2)  # warm: the page cached, the file in the page cache
        assert httpx.get(self.base + "/news/").headers.get("x-cache") == "HIT"
        cached, static = [], []
        for _ in range(self.rounds):
            cached.append(wrk(self.base + "/news/", self.seconds)[0])
            static.append(wrk(self.base + "/static-copy/news.html", self.seconds)[0])
        return {
            "bytes": len(body),
            "cached": statistics.median(cached),
            "static": statistics.median(static),
            "ratio": statistics.median(c / s for c, s in zip(cached, static, strict=True)),
        }

    def nodes(self) -> dict:
        """The listing past nginx's cache: requests per CPU-second of the app processes, 1 node vs 3."""
        header = ("-H", "Cookie: rulecenter_wrote=0/0")  # bypasses nginx's cache; every replica has 0/0
        results: dict[int, list[tuple[float, float]]] = {1: [], 3: []}
        for _ in range(self.rounds):
            for count in (1, 3):
                self.cluster.nginx_reload(count)
                wrk(self.base + "/news/", 2, *header)  # warm the nodes in front
                before = _group_cpu(self.app_pgids())
                rate, requests = wrk(self.base + "/news/", self.seconds, *header)
                cpu = _group_cpu(self.app_pgids()) - before
                results[count].append((rate, requests / cpu))
        self.cluster.nginx_reload()
        one = [per for _, per in results[1]]
        three = [per for _, per in results[3]]
        return {
            "one": {"rate": statistics.median(r for r, _ in results[1]), "per_cpu": statistics.median(one)},
            "three": {
                "rate": statistics.median(r for r, _ in results[3]),
                "per_cpu": statistics.median(three),
            },
            "ratio": statistics.median(t / o for t, o in zip(three, one, strict=True)),
        }

    def votes(self) -> dict:
        scratch = tempfile.TemporaryDirectory(prefix="rulecenter-scaleout-")
        tokens = Path(scratch.name) / "tokens.txt"
        tokens.write_text("\n".join(self.facts["tokens"]) + "\n")
        script = Path(scratch.name) / "votes.lua"
        script.write_text(VOTE_SCRIPT)
        path = f"/api/v1/consultations/{self.facts['consultation']}/votes"

        def measure() -> tuple[float, float]:
            rates, cpus = [], []
            wrk(self.base + path, 2, "-s", str(script), args=(str(tokens), path))
            for _ in range(self.rounds):
                before = _group_cpu(self.app_pgids())
                rate, requests = wrk(
                    self.base + path, self.seconds, "-s", str(script), args=(str(tokens), path)
                )
                rates.append(rate)
                cpus.append((_group_cpu(self.app_pgids()) - before) / requests * 1e6)
            return statistics.median(rates), statistics.median(cpus)

        with_replica = measure()
        self.cluster.state["replica_removed"] = True
        self.cluster.save()
        self.cluster.stop_service("replica")
        self.cluster.restart_nodes()
        without = measure()
        scratch.cleanup()
        return {
            "with": {"rate": with_replica[0], "cpu_us": with_replica[1]},
            "without": {"rate": without[0], "cpu_us": without[1]},
            "ratio": with_replica[0] / without[0],
        }


def table(result: dict, when: str) -> str:
    cached, nodes, votes = result["cached"], result["nodes"], result["votes"]
    return "\n".join([
        START,
        f"Measured {when} by `python -m bench.scaleout` ({result['rounds']} interleaved rounds of "
        f"{result['seconds']:g} s per line, wrk -t2 -c32 on the same 2 cores, median req/s; the demo data, "
        f"the app's own page cache off). {result['machine']}",
        "",
        "| what | measured | ratio | target |",
        "|---|---|---|---|",
        f"| /news/ from nginx's cache vs the same {cached['bytes']:,} bytes as a static file from the same nginx "
        f"| {cached['cached']:,.0f} vs {cached['static']:,.0f} req/s | **{cached['ratio']:.0%}** | ≥ 80 % |",
        f"| the listing past the cache, 1 node vs 3 nodes: requests per CPU-second of the app processes "
        f"| {nodes['one']['per_cpu']:,.0f} vs {nodes['three']['per_cpu']:,.0f} "
        f"({nodes['one']['rate']:,.0f} vs {nodes['three']['rate']:,.0f} req/s) "
        f"| **{nodes['ratio']:.0%}** (3 ÷ 1) | ≥ 90 % |",
        f"| votes through nginx with the replica attached vs without "
        f"| {votes['with']['rate']:,.0f} vs {votes['without']['rate']:,.0f} votes/s "
        f"({votes['with']['cpu_us']:,.0f} vs {votes['without']['cpu_us']:,.0f} µs of app CPU a vote) "
        f"| {votes['ratio']:.0%} | — |",
        END,
    ])  # fmt: skip


def _machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        "?",
    )
    return f"{cpu}, {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f} before."


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print the table, leave docs/performance.md")
    parser.add_argument("--only", choices=["cached", "nodes", "votes"], help="one part (implies --no-write)")
    args = parser.parse_args()
    machine = _machine()
    bench = Bench(args.seconds, args.rounds)
    try:
        bench.start()
        result: dict = {"rounds": args.rounds, "seconds": args.seconds, "machine": machine}
        for name, part in (
            ("cached", bench.cached_vs_static),
            ("nodes", bench.nodes),
            ("votes", bench.votes),
        ):
            result[name] = part()
            print(name, json.dumps(result[name]), flush=True)
    finally:
        bench.cluster.stop()
    if args.only:
        return
    text = table(result, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    print(text)
    if not args.no_write:
        doc = DOC.read_text()
        if START in doc:
            doc = doc[: doc.index(START)] + text + doc[doc.index(END) + len(END) :]
        else:
            doc += "\n" + text + "\n"
        DOC.write_text(doc)


if __name__ == "__main__":
    main()
