"""Benchmark: a term feed from the aiohttp routes vs nginx serving the same bytes as a file.

The feed server runs in its own process the way ``lfx-cal serve`` runs it: one
process, one asyncio loop, an aiohttp application with ``lfx_cal.web.add_routes``
over a snapshot of the bundled example term (access log off). ``--uvloop`` adds
the same server on uvloop; ``--bare`` adds an aiohttp app whose only handler
returns the same pre-built response (what the framework alone costs). nginx
runs in the same run with one worker (daemon off, access log off, sendfile on),
serving the byte-identical ``.ics`` as a static file. ``wrk -t1 -c50 -d5s`` loads each in
turn, alternating, for the 200 path and for the 304 path (a wrk script sends
If-None-Match with each server's own ETag). With two or more CPUs the servers are
pinned to CPU 0 and wrk to CPU 1 (taskset), so both sides get one core.
Both keep connections alive for the whole run (nginx ``keepalive_requests`` raised;
aiohttp has no per-connection request limit). Goal: Python ≥ 0.5× nginx.

Run: ``python bench/bench_feed.py`` (5 runs of 5 s each per case) or
``python bench/bench_feed.py --runs 1 --duration 2`` for a quick look.
Needs ``wrk`` and ``nginx`` on PATH (Debian: apt-get install wrk nginx).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    types {{ text/calendar ics; }}
    charset utf-8;
    charset_types text/calendar;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 10000000;
    server {{
        listen 127.0.0.1:{port};
        root {tmp}/www;
        location /feeds/ {{ add_header Cache-Control "public, max-age=300"; }}
    }}
}}
"""

TERM = "lfx-2027-t2"
WRK_304 = "wrk.headers['If-None-Match'] = '{etag}'\n"


def serve(port: int, loop: str) -> None:
    """Child process: the feed routes over the example term, as ``lfx-cal serve`` runs them."""
    from aiohttp import web

    from feeds.load import load
    from lfx_cal.bundled import example_term
    from lfx_cal.web import add_routes
    from scheduler.metrics import Metrics
    from scheduler.snapshot import build_snapshot

    @dataclasses.dataclass
    class State:
        snapshot: object
        metrics: Metrics

    zone = "America/Los_Angeles"
    snapshot = build_snapshot([load(str(example_term()), zone=zone)], {}, zone)
    app = web.Application()
    add_routes(app, State(snapshot, Metrics()))  # type: ignore[arg-type]
    if loop == "bare":  # the framework's floor: same bytes and headers, no per-request logic
        from lfx_cal.web.feeds import FeedQuery, render_feed

        item = render_feed(snapshot, FeedQuery(TERM))

        async def bare(request: web.Request) -> web.Response:
            if request.headers.get("If-None-Match") == item.etag:
                return web.Response(status=304, headers=item.not_modified)
            return web.Response(body=item.body, headers=item.headers)

        app = web.Application()
        app.router.add_get("/feeds/{name}.ics", bare)
    event_loop = None
    if loop == "uvloop":
        import uvloop

        event_loop = uvloop.new_event_loop()
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None, loop=event_loop)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def fetch(url: str, timeout: float = 20) -> tuple[bytes, str]:
    """GET *url* (retrying until the server is up); returns body and ETag."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read(), response.headers["ETag"]
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def pin(cpu: int) -> list[str]:
    return ["taskset", "-c", str(cpu)] if shutil.which("taskset") and os.cpu_count() != 1 else []


def wrk(url: str, duration: int, connections: int, script: Path | None) -> float:
    """Requests per second of one wrk run; fails if any response was not 2xx/3xx."""
    command = [*pin(1), "wrk", "-t1", f"-c{connections}", f"-d{duration}s", url]
    if script is not None:
        command[len(pin(1)) + 1 : len(pin(1)) + 1] = ["-s", str(script)]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if "Non-2xx or 3xx" in out:
        raise SystemExit(f"wrk saw errors:\n{out}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if match is None:
        raise SystemExit(f"cannot read wrk output:\n{out}")
    return float(match.group(1))


def start_python(loop: str, port: int) -> subprocess.Popen[bytes]:
    """The feed server process (pinned to CPU 0 when possible)."""
    command = [*pin(0), sys.executable, __file__, "--serve", str(port), "--loop", loop]
    return subprocess.Popen(command, env={**os.environ, "PYTHONPATH": str(ROOT)})


def start_nginx(tmp: Path, body: bytes, port: int) -> subprocess.Popen[bytes]:
    """nginx with one worker serving *body* as ``/feeds/TERM.ics`` from *tmp*."""
    www = tmp / "www" / "feeds"
    www.mkdir(parents=True)
    (www / f"{TERM}.ics").write_bytes(body)
    for path in (tmp, tmp / "www", www):
        path.chmod(0o755)
    (www / f"{TERM}.ics").chmod(0o644)
    (tmp / "nginx.conf").write_text(NGINX_CONF.format(tmp=tmp, port=port))
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    return subprocess.Popen([*pin(0), nginx, "-p", str(tmp), "-c", str(tmp / "nginx.conf")])


def report(results: dict[tuple[str, int], list[float]], names: list[str]) -> None:
    """Print medians and bests, and each Python server's ratio to nginx.

    On a shared machine other load lowers some runs a lot: the best run is the
    closest to each server's capacity, so both ratios are printed.
    """
    print("\nrequests/second: median (best); ratio to nginx: of medians (of bests)")
    for status in (200, 304):
        ngx = results["nginx", status]
        line = [f"  {status}: nginx {statistics.median(ngx):>9,.0f} ({max(ngx):,.0f})"]
        for name in names:
            got = results[name, status]
            ratio = statistics.median(got) / statistics.median(ngx)
            best = max(got) / max(ngx)
            verdict = "meets" if min(ratio, best) >= 0.5 else "misses"
            line.append(
                f"{name} {statistics.median(got):>9,.0f} ({max(got):,.0f})"
                f" = {ratio:.2f}x ({best:.2f}x), {verdict} 0.5x"
            )
        print(";  ".join(line))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument(
        "--uvloop", action="store_true", help="also run the feed server on uvloop (if installed)"
    )
    parser.add_argument(
        "--bare",
        action="store_true",
        help="also run a bare aiohttp handler sending the same cached bytes (the framework floor)",
    )
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--loop", default="asyncio", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.loop)
        return
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            raise SystemExit(f"{tool} not found (apt-get install wrk nginx)")
    loops = ["asyncio", *(["uvloop"] if args.uvloop else []), *(["bare"] if args.bare else [])]
    processes: list[subprocess.Popen[bytes]] = []
    urls: dict[str, str] = {}
    etags: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="lfx-bench-") as folder:
        tmp = Path(folder)
        try:
            body = b""
            for loop in loops:
                port = free_port()
                processes.append(start_python(loop, port))
                urls[f"python/{loop}"] = f"http://127.0.0.1:{port}/feeds/{TERM}.ics"
                got, etags[f"python/{loop}"] = fetch(urls[f"python/{loop}"])
                assert not body or got == body
                body = got
            port = free_port()
            processes.append(start_nginx(tmp, body, port))
            urls["nginx"] = f"http://127.0.0.1:{port}/feeds/{TERM}.ics"
            got, etags["nginx"] = fetch(urls["nginx"])
            assert got == body, "nginx must serve the same bytes"
            cases: dict[tuple[str, int], tuple[str, Path | None]] = {}
            for status in (200, 304):
                for name, url in urls.items():
                    script = None
                    if status == 304:
                        script = tmp / f"{name.replace('/', '-')}-304.lua"
                        script.write_text(WRK_304.format(etag=etags[name]))
                    cases[name, status] = (url, script)
            results: dict[tuple[str, int], list[float]] = {key: [] for key in cases}
            print(f"feed: {len(body)} bytes; wrk -t1 -c{args.connections} -d{args.duration}s")
            for run in range(args.runs):
                for key, (url, script) in cases.items():
                    rate = wrk(url, args.duration, args.connections, script)
                    results[key].append(rate)
                    print(f"run {run + 1}: {key[0]:<15} {key[1]} {rate:>10,.0f} req/s", flush=True)
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(10)
    report(results, [f"python/{loop}" for loop in loops])


if __name__ == "__main__":
    main()
