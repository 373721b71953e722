"""Write the results and performance tables of README.md and docs/ from the committed
JSON (python -m experiments.docs).

    python -m experiments.docs            # rewrite every generated table in place
    python -m experiments.docs --check    # exit 1 if any table differs from its JSON

Sources: figures/summary.json (the reference run), figures/atlas/summary.json (the atlas),
figures/nulls/*.json (the null models, docs/methods.md),
figures/cells/summary.json and the task runs' summary.json (docs/beyond.md,
`rnnctl.paper.beyond_tables.SOURCES`) and figures/bench/*.json (the benchmarks). Each table
sits between its markers (`MARKERS`: `rnnctl.paper.tables.MARKERS`,
`rnnctl.paper.beyond_tables.MARKERS` and `rnnctl.bench.tables.MARKERS`).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rnnctl.bench import tables as _bench
from rnnctl.paper import beyond_tables as _beyond
from rnnctl.paper import tables as _paper

#: The checkout whose README.md, docs/ and figures/ are read and written.
ROOT = Path(__file__).resolve().parents[2]
#: Every generated table: name -> (file, start marker, end marker).
MARKERS = {**_paper.MARKERS, **_beyond.MARKERS, **_bench.MARKERS}


def tables(root: Path = ROOT) -> dict[str, str]:
    """Each generated table's text, by name (see `MARKERS`)."""
    def read(rel):
        return json.loads((root / rel).read_text())
    reference, atlas = read("figures/summary.json"), read("figures/atlas/summary.json")
    train, grid, scaling = (read(_bench.SOURCES[k]) for k in ("train", "grid", "scaling"))
    return {"glance": _paper.glance_table(reference, atlas),
            "atlas": _paper.atlas_table(atlas), "progress": _paper.progress_table(atlas),
            "nulls": _paper.nulls_table(*(read(rel) for rel in _paper.NULLS_SOURCES)),
            "beyond-cells": _beyond.cells_table(read(_beyond.SOURCES["beyond-cells"][0])),
            "beyond-tasks": _beyond.tasks_table([(rel, read(rel))
                                                 for rel in _beyond.SOURCES["beyond-tasks"]]),
            "perf-readme": _bench.readme_table(train),
            "perf-machine": _bench.machine_block(train["provenance"]),
            "perf-training": _bench.training_table(train),
            "perf-process": _bench.process_table(train),
            "perf-profile": _bench.profile_text(train),
            "perf-scaling": _bench.scaling_table(scaling, train["provenance"]),
            "perf-grid": _bench.grid_table(grid, train["provenance"])}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m experiments.docs",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true",
                   help="change nothing; exit 1 if a table differs from its JSON")
    args = p.parse_args(argv)
    from rnnctl.paper.tables import replace_between
    stale = []
    for name, body in tables().items():
        rel, start, end = MARKERS[name]
        path = ROOT / rel
        text = path.read_text()
        new = replace_between(text, start, end, body)
        if new != text:
            stale.append(f"{rel} ({name})")
            if not args.check:
                path.write_text(new)
    verb = "differ from their JSON" if args.check else "rewritten"
    print(f"{len(stale)} table(s) {verb}" + (f": {', '.join(stale)}" if stale else ""))
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
