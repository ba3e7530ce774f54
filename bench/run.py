"""kubedeck benchmarks: one command, each figure against a baseline from the same run.

    python bench/run.py            full run
    python bench/run.py --quick    < 5 minutes on 2 cores
    python bench/run.py --only pod_start,api_latency
    python bench/run.py --quick --compare bench/results/OLD.json   (each figure's change, > 10 % flagged)
    python bench/run.py --compare bench/results/OLD.json --compare-only   (latest.json against OLD, no run)
    python bench/run.py --only scale500   (500 real pods: heavy, never part of a default run)
    python bench/run.py --only any_cluster_scale   (the TUI by --context on 5,000 pods: opt-in too)
    python bench/run.py --only soak       (200 pods, 50 saves/min for 5 min; bench/soak.py --minutes 60: longer)
    KDBENCH_PYSPY=/tmp/prof python bench/run.py --quick   (py-spy raw profiles of each engine)

Prints one table per benchmark, then, as the very last lines, `name value` per headline
figure. Writes bench/results/<UTC date>T<HHMM>[-quick].json (and latest.json) with machine info.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import Result, docker_client, ensure_images, log, machine_info, print_table, wait_quiet  # noqa: E402

# module, headline names it produces (in output order)
BENCHES = [
    ("pod_start", ["pod_start_ratio"]),
    ("reconcile", ["reconcile_ms"]),
    ("network", ["nodeport_rps_ratio", "ingress_rps_ratio", "nodeport_p99_added_ms"]),
    ("in_cluster", ["service_rps_ratio"]),
    ("tui_update", ["tui_update_ms", "tui_update_churn_ms", "tui_update_5000_ms"]),
    ("tui_latency", ["tui_first_paint_s", "tui_status_ms", "tui_first_paint_1000_s"]),
    ("logs", ["logs_follow_ratio"]),
    ("engine_rss", ["engine_rss_mb_100pods"]),
    ("api_latency", ["api_p99_ms"]),
    ("lifecycle", ["serve_to_api_s", "restart_ms"]),
    ("scale500", ["scale500_ready_ratio", "scale500_rss_mb", "scale500_idle_cpu_pct", "scale500_list_p99_ms",
                  "scale500_down_ratio"]),
    ("activity_cost", ["activity_cost_pct"]),
    ("any_cluster_scale", ["any_cluster_first_paint_5000_s", "any_cluster_update_5000_ms"]),
    ("soak", ["soak_api_p99_ms", "soak_rss_slope_mib_min", "soak_fd_growth", "soak_saves_missing",
              "soak_task_failures"]),
]
# heavy benchmarks run only when named in --only
OPT_IN = {"scale500", "activity_cost", "any_cluster_scale", "soak"}
TARGETS = {"pod_start_ratio": "<= 1.15", "reconcile_ms": "<= 500", "nodeport_rps_ratio": ">= 0.95",
           "ingress_rps_ratio": ">= 0.9", "nodeport_p99_added_ms": "<= 1",
           "service_rps_ratio": ">= 0.8", "tui_update_ms": "<= 50", "tui_update_churn_ms": "<= 50",
           "tui_update_5000_ms": "<= 100", "tui_first_paint_s": "<= 0.7", "tui_status_ms": "<= 200",
           "tui_first_paint_1000_s": "<= 1.5", "logs_follow_ratio": ">= 0.5", "engine_rss_mb_100pods": "<= 150",
           "api_p99_ms": "<= 50", "serve_to_api_s": "<= 0.5", "restart_ms": "<= 1000",
           "scale500_ready_ratio": "<= 1.1", "scale500_rss_mb": "<= 250", "scale500_idle_cpu_pct": "<= 5",
           "scale500_list_p99_ms": "<= 100", "scale500_down_ratio": "<= 1.1", "activity_cost_pct": "< 2",
           "any_cluster_first_paint_5000_s": "<= 1.5", "any_cluster_update_5000_ms": "<= 200",
           "soak_api_p99_ms": "<= 1000", "soak_rss_slope_mib_min": "<= 1", "soak_fd_growth": "<= 20",
           "soak_saves_missing": "<= 0", "soak_task_failures": "<= 0"}


def compare(old_path: Path, new: dict[str, float | None], threshold: float = 0.10) -> list[str]:
    """One line per figure: old -> new and the change; a move over `threshold` is flagged,
    as better or worse by the figure's target direction."""
    old_doc = json.loads(old_path.read_text())
    old = old_doc.get("headline", {})
    lines = [f"== compare with {old_path} ({old_doc.get('mode', '?')}, {old_doc.get('date', '?')}, "
             f"commit {old_doc.get('machine', {}).get('commit', '?')})"]
    for name in [n for n in new if n in old] + [n for n in new if n not in old] + [n for n in old if n not in new]:
        a, b = old.get(name), new.get(name)
        if a is None or b is None:
            lines.append(f"   {name:<24} {_num(a):>10} -> {_num(b):<10} {'new' if name not in old else 'n/a'}")
            continue
        change = (b - a) / abs(a) if a else 0.0
        flag = ""
        if abs(change) > threshold:
            higher_better = TARGETS.get(name, "<= 0").startswith(">=")
            flag = "  <-- " + ("better" if (change > 0) == higher_better else "WORSE") + f" by {abs(change):.0%}"
        lines.append(f"   {name:<24} {_num(a):>10} -> {_num(b):<10} {change:+7.1%}{flag}")
    return lines


def _num(v) -> str:
    return "n/a" if v is None else f"{v:.4g}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller N, fewer repeats (< 5 min on 2 cores)")
    ap.add_argument("--only", help="comma-separated benchmark modules: " + ",".join(m for m, _ in BENCHES))
    ap.add_argument("--out", type=Path, default=HERE / "results", help="directory for the JSON results")
    ap.add_argument("--no-save", action="store_true", help="do not write the JSON results")
    ap.add_argument("--compare", type=Path, metavar="OLD.json",
                    help="after the run, print each figure's change against an earlier results file "
                         "(moves over 10%% flagged)")
    ap.add_argument("--compare-only", action="store_true",
                    help="with --compare: compare the latest results (--out/latest.json), run nothing")
    args = ap.parse_args(argv)

    only = set(args.only.split(",")) if args.only else None
    # Measure kubedeck as installed (pip compiles its bytecode): with PYTHONDONTWRITEBYTECODE
    # set, every engine and `kubedeck ui` start would compile ~100 of kubedeck's modules
    # from source. The cache lives outside the tree.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ.setdefault("PYTHONPYCACHEPREFIX", str(Path(tempfile.gettempdir()) / "kdbench-pycache"))
    sys.dont_write_bytecode = False
    sys.pycache_prefix = os.environ["PYTHONPYCACHEPREFIX"]
    if args.compare and args.compare_only:
        latest = json.loads((args.out / "latest.json").read_text())
        print("\n".join(compare(args.compare, latest["headline"])))
        return 0
    docker = docker_client()
    ensure_images(docker)
    started = time.time()
    results: list[Result] = []
    for module, names in BENCHES:
        if (only and module not in only) or (not only and module in OPT_IN):
            continue
        waited, busy = wait_quiet()
        log(f"running {module} ({'quick' if args.quick else 'full'}; machine {busy:.0f} % busy after {waited:.1f} s)")
        os.environ["KDBENCH_NAME"] = module
        t0 = time.perf_counter()
        try:
            mod = __import__(module)
            out = mod.run(docker, args.quick)
            got = out if isinstance(out, list) else [out]
        except Exception as e:  # noqa: BLE001 - one benchmark failing must not hide the others
            traceback.print_exc()
            got = [Result(n, None, TARGETS[n], module, error=f"{type(e).__name__}: {e}") for n in names]
        for r in got:
            r.notes.append(f"benchmark took {time.perf_counter() - t0:.0f} s")
            print_table(r)
            sys.stdout.flush()
        results.extend(got)

    total = time.time() - started
    now = dt.datetime.now(dt.timezone.utc)
    doc = {"date": now.isoformat(timespec="seconds"), "mode": "quick" if args.quick else "full",
           "duration_s": round(total, 1), "machine": machine_info(docker),
           "headline": {r.name: r.value for r in results},
           "targets": {r.name: {"target": r.target, "met": r.met()} for r in results},
           "results": [r.to_json() for r in results]}
    if not args.no_save:
        args.out.mkdir(parents=True, exist_ok=True)
        # to the minute: consecutive runs (issue 18's three quick ones) each keep their file
        path = args.out / f"{now:%Y-%m-%dT%H%M}{'-quick' if args.quick else ''}.json"
        path.write_text(json.dumps(doc, indent=2) + "\n")
        (args.out / "latest.json").write_text(json.dumps(doc, indent=2) + "\n")
        log(f"results written to {path}")

    print()
    print(f"== summary ({doc['mode']}, {total:.0f} s, {doc['machine']['cpu_count']} cpus, "
          f"{doc['machine']['cpu_model']}, docker {doc['machine']['docker_version']})")
    for r in results:
        met = r.met()
        print(f"   {r.name:<24} {('n/a' if r.value is None else f'{r.value:.4g}'):>10}  target {r.target:<8} "
              f"{'n/a' if met is None else 'met' if met else 'MISSED'}")
    if args.compare:
        print()
        print("\n".join(compare(args.compare, doc["headline"])))
    print()
    for r in results:
        print(f"{r.name} {'nan' if r.value is None else round(r.value, 4)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
