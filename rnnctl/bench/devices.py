"""Throughput of the default sweep on 1 vs N devices (forced host devices on a CPU).

    python -m experiments.bench_devices [--devices 2] [--out runs/bench/bench_devices.json]

Both rows run in this one process (which asks XLA for N host devices before jax starts),
so their ratio is the speed-up of sharding the agent axis with `--devices N`.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m experiments.bench_devices",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--devices", type=int, default=2)
    p.add_argument("--seeds", type=int, default=5, help="seeds × {FO, PO} (default: 5)")
    p.add_argument("--repeats", type=int, default=2, help="timed runs per row (default: 2)")
    p.add_argument("--out", type=Path, default=Path("runs/bench/bench_devices.json"))
    args = p.parse_args(argv)
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" not in flags:
        os.environ["XLA_FLAGS"] = (f"{flags} --xla_force_host_platform_device_count="
                                   f"{args.devices}").strip()
    from rnnctl.cli import prepare
    prepare()        # as the command-line tools start
    import jax
    import numpy as np
    from rnnctl.config import TrainConfig
    from rnnctl.experiment import make_agents, train_agents

    from rnnctl.provenance import provenance
    prov = provenance()        # before the work: the load average it started under
    config = TrainConfig()
    agents = make_agents(range(args.seeds))
    rows, results = [], {}
    for n in (1, args.devices):
        times = []
        for _ in range(args.repeats):
            r = train_agents(config, agents, progress=False, devices=n)
            times.append(r.train_s)
        best = min(times)
        results[n] = r
        rows.append({"devices": n, "compile_s": r.compile_s, "train_s_best": best,
                     "train_s_all": times, "env_steps_per_s": r.env_steps / best})
    diff1 = max(float(np.abs(a[:, 1] - b[:, 1]).max()) for a, b in
                zip(jax.tree.leaves(results[1].params),
                    jax.tree.leaves(results[args.devices].params)))
    speedup = rows[1]["env_steps_per_s"] / rows[0]["env_steps_per_s"]
    print(f"\n{len(agents)} agents × {config.n_updates} updates × {config.steps_per_update} "
          f"steps; {os.cpu_count()} CPUs; jax {jax.__version__}; devices: {jax.devices()}")
    print(f"{'devices':>8}{'compile s':>11}{'train s':>10}{'steps/s':>12}")
    for r in rows:
        print(f"{r['devices']:>8}{r['compile_s']:>11.1f}{r['train_s_best']:>10.1f}"
              f"{r['env_steps_per_s']:>12,.0f}")
    print(f"speed-up with {args.devices} devices: {speedup:.2f}×; max |Δparam| after one "
          f"update: {diff1:.2e}")
    out = {"provenance": prov, "rows": rows, "speedup": speedup,
           "max_param_diff_update1": diff1, "n_agents": len(agents),
           "config": config.to_dict()}
    from rnnctl.runs import write_json
    write_json(args.out, out)             # atomic: temp file, fsync, rename
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
