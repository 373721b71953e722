"""Write the results tables of README.md and docs/ from the committed JSON
(python -m experiments.docs).

    python -m experiments.docs            # rewrite every generated table in place
    python -m experiments.docs --check    # exit 1 if any table differs from its JSON

Sources: figures/summary.json (the reference run) and figures/atlas/summary.json (the
atlas). Each table sits between its markers (`rnnctl.paper.tables.MARKERS`).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

#: The checkout whose README.md, docs/ and figures/ are read and written.
ROOT = Path(__file__).resolve().parents[2]


def tables(root: Path = ROOT) -> dict[str, str]:
    """Each generated table's text, by name (see `rnnctl.paper.tables.MARKERS`)."""
    from rnnctl.paper import tables as T
    reference = json.loads((root / "figures" / "summary.json").read_text())
    atlas = json.loads((root / "figures" / "atlas" / "summary.json").read_text())
    return {"glance": T.glance_table(reference, atlas), "atlas": T.atlas_table(atlas),
            "progress": T.progress_table(atlas)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m experiments.docs",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true",
                   help="change nothing; exit 1 if a table differs from its JSON")
    args = p.parse_args(argv)
    from rnnctl.paper.tables import MARKERS, replace_between
    stale = []
    for name, body in tables().items():
        rel, start, end = MARKERS[name]
        path = ROOT / rel
        text = path.read_text()
        new = replace_between(text, start, end, body)
        if new != text:
            stale.append(rel)
            if not args.check:
                path.write_text(new)
    verb = "differ from their JSON" if args.check else "rewritten"
    print(f"{len(stale)} table(s) {verb}" + (f": {', '.join(stale)}" if stale else ""))
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
