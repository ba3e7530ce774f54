"""api_p99_ms: p99 latency of get / list / create on the engine API under 20 concurrent
clients (asyncio + aiohttp, one keep-alive connection each), each looping GET one
ConfigMap, LIST the namespace's ConfigMaps (100+), POST a new ConfigMap.
Baseline row: GET /version under the same concurrency (the HTTP stack alone)."""

from __future__ import annotations

import asyncio
import json
import time

from common import Engine, Result, log, median, percentile

CLIENTS = 20


async def load(url: str, token: str, ssl, rounds: int, prefix: str) -> dict[str, list[float]]:
    import aiohttp

    lat: dict[str, list[float]] = {"get": [], "list": [], "create": [], "version": []}
    headers = {"Authorization": f"Bearer {token}"}
    base = f"{url}/api/v1/namespaces/default/configmaps"

    async def client(i: int) -> None:
        conn = aiohttp.TCPConnector(limit=1, ssl=ssl)
        async with aiohttp.ClientSession(headers=headers, connector=conn) as s:
            for r in range(rounds):
                for op, method, u, body in (
                        ("get", "GET", f"{base}/seed-{(i + r) % 100}", None),
                        ("list", "GET", base, None),
                        ("create", "POST", base, {"apiVersion": "v1", "kind": "ConfigMap",
                                                  "metadata": {"name": f"{prefix}-{i}-{r}"},
                                                  "data": {"k": "v" * 64}}),
                        ("version", "GET", f"{url}/version", None)):
                    t0 = time.perf_counter()
                    async with s.request(method, u, data=json.dumps(body) if body else None,
                                         headers={"Content-Type": "application/json"} if body else None) as resp:
                        await resp.read()
                        if resp.status >= 400:
                            raise RuntimeError(f"{op} -> {resp.status}")
                    lat[op].append((time.perf_counter() - t0) * 1000)

    await asyncio.gather(*(client(i) for i in range(CLIENTS)))
    return lat


def run(docker, quick: bool) -> Result:
    # quick: 3,000 requests over about 3 s, so that one stall of the machine is not its p99
    rounds = 50 if quick else 75
    with Engine(docker) as eng:
        for i in range(100):
            eng.client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"seed-{i}"},
                               "data": {"k": "v" * 64}})
        conn = eng.connection()
        asyncio.run(load(conn.url, conn.token, conn.ssl(), 3, "warm"))
        t0 = time.perf_counter()
        lat = asyncio.run(load(conn.url, conn.token, conn.ssl(), rounds, "cm"))
        took = time.perf_counter() - t0
    ops = [v for k in ("get", "list", "create") for v in lat[k]]
    p99 = percentile(ops, 99)
    n = len(ops) + len(lat["version"])
    log(f"api: {n} requests in {took:.1f}s ({n / took:.0f}/s), p99 {p99:.1f} ms")
    res = Result("api_p99_ms", p99, "<= 50",
                 f"p99 of get/list/create, {CLIENTS} concurrent clients, {len(ops)} requests",
                 baseline_label="GET /version p99, same load", baseline=percentile(lat["version"], 99),
                 kubedeck=p99, unit="ms", repeats=len(ops), spread=f"median {median(ops):.1f} ms")
    for k in ("get", "list", "create"):
        res.rows.append({"label": k, "detail": "median / p99",
                         "value": f"{median(lat[k]):.1f} / {percentile(lat[k], 99):.1f} ms"})
    res.rows.append({"label": "throughput", "detail": "all requests incl. /version", "value": f"{n / took:.0f} req/s"})
    res.notes.append("list returns 100-600 ConfigMaps as the creates pile up; SLO reference: Kubernetes 1 s")
    return res
