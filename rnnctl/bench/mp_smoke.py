"""Multi-process smoke test: 2 seeds × {FO, PO} for 2 updates across jax processes.

Run the same command on every process (here 2 on one machine, CPU)::

    python -m experiments.mp_smoke --coordinator 127.0.0.1:1234 --num-processes 2 --process-id 0 --out res
    python -m experiments.mp_smoke --coordinator 127.0.0.1:1234 --num-processes 2 --process-id 1 --out res

Each process trains with `experiment.train_agents` on all global devices, prints one
line, and with `--out` writes the full gathered record to `<out>.<process id>.npz`
(`params/<a/b/c>` and `metrics/<name>` arrays, [A, U+1, ...]).
"""
from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m experiments.mp_smoke",
                                description=__doc__.split("\n\n")[0], allow_abbrev=False)
    p.add_argument("--coordinator", default=None, help="host:port of process 0")
    p.add_argument("--num-processes", type=int, default=None)
    p.add_argument("--process-id", type=int, default=None)
    p.add_argument("--out", default=None, help="write <out>.<process id>.npz")
    args = p.parse_args(argv)

    from rnnctl.cli import prepare
    prepare()        # as the command-line tools start
    from rnnctl import distributed
    distributed.initialize(args.coordinator, args.num_processes, args.process_id)
    import jax
    import numpy as np
    from rnnctl import runs
    from rnnctl.config import TrainConfig
    from rnnctl.experiment import make_agents, train_agents

    config = TrainConfig(n_updates=2, rollout_len=256, eval_episodes=2, n_epochs=2)
    agents = make_agents([0, 1], ["fo", "po"])
    result = train_agents(config, agents, progress=False, devices=jax.device_count())
    print(f"process {jax.process_index()}/{jax.process_count()}: {len(agents)} agents on "
          f"{jax.device_count()} devices ({jax.local_device_count()} local), trained in "
          f"{result.train_s:.1f}s; eval_return[:, -1] = "
          f"{np.round(result.metrics['eval_return'][:, -1], 1)}", flush=True)
    if args.out:
        arrays = {f"params/{k}": v for k, v in runs.flatten_params(result.params).items()}
        arrays.update({f"metrics/{k}": v for k, v in result.metrics.items()})
        np.savez(f"{args.out}.{jax.process_index()}.npz", **arrays)
    return 0


if __name__ == "__main__":
    sys.exit(main())
