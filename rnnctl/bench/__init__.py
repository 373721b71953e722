"""rnnctl's benchmarks and smoke runs, one module each; in a checkout each runs as
`python -m experiments.bench_X` (installed: `python -m rnnctl.bench.X`).

    train      the trainer against sb3-contrib's RecurrentPPO, and the whole sweep process
    scaling    throughput and peak memory for 1 to 1,000 agents
    devices    the default sweep on 1 vs N devices
    analysis   the analysis of a sweep, stage by stage (compare: old vs new analysis)
    mp_smoke   training across several jax processes
    dsa        DSA of 110 systems in one program, against the reference dsa-metric

Each writes JSON with its `rnnctl.provenance` (docs/performance.md).
"""
