"""The results tables of README.md and docs/results.md, generated from committed JSON.

Every number or verdict in those tables comes from a `summary.json` through these
functions; `python -m experiments.docs` writes them between their markers and
tests/test_readme_tables.py fails when a table and its JSON disagree.
"""
from __future__ import annotations

__all__ = ["MARKERS", "verdict", "glance_table", "atlas_table", "progress_table",
           "nulls_table", "replace_between", "condition_name", "NULLS_SOURCES"]

#: Where each generated table lives: name -> (file, start marker, end marker).
MARKERS = {
    "glance": ("README.md", "<!-- results-table:start -->", "<!-- results-table:end -->"),
    "atlas": ("docs/results.md", "<!-- atlas-table:start -->", "<!-- atlas-table:end -->"),
    "progress": ("docs/results.md", "<!-- progress-table:start -->",
                 "<!-- progress-table:end -->"),
    "nulls": ("docs/methods.md", "<!-- nulls-table:start -->", "<!-- nulls-table:end -->"),
}

#: The null-model measurements behind the nulls table (`python -m experiments.nulls`
#: output): shuffled and never-trained draws, and the drift draws.
NULLS_SOURCES = ("figures/nulls/dev_shuffled_never.json", "figures/nulls/dev_drift.json")

SHORT_TEXT = {
    1: "training sharpens the policy; FO ends sharper than PO (Fig 1b)",
    2: "PO hidden states form a ring ordered by θ (Fig 1c)",
    3: "a stable fixed point near the goal emerges before an unstable one near hanging "
       "(Fig 1c)",
    4: "the stable fixed point's distance to its final place tracks reward-to-go (Fig 1d)",
    5: "the top-5 timescales rise, then fall (Fig 1e)",
}


def verdict(claim: dict | None) -> str:
    """"holds", "no" or "not tested" for one claim entry of a summary.json."""
    if claim is None:
        return "n/a"
    stats = claim.get("stats") or {}
    if claim.get("tested") is False or stats.get("tested") is False:
        return "not tested"
    return "**holds**" if claim["holds"] else "no"


def _p(claim: dict | None) -> str:
    if claim is None:
        return ""
    p = claim.get("p_value", (claim.get("stats") or {}).get("p_value"))
    return "" if p is None else f" (p {p:.2g})"


def condition_name(c: dict, multi_budget: bool = True) -> str:
    name = f"{c['rnn_init']}, {c['encoding']}"
    return name + (f", {c['updates']} updates" if multi_budget else "")


def glance_table(reference: dict, atlas: dict) -> str:
    """One row per claim: the reference run's verdicts (rules v1 / v2) and the atlas's
    (how many of its conditions each rule version holds in)."""
    conds = atlas["conditions"]
    n = len(conds)
    seeds = atlas["seeds"]
    ref_seeds = sorted({a["seed"] for a in reference["agents"]})
    lines = [f"| claim | reference run, {len(ref_seeds)} seeds: v1 / v2 | atlas, "
             f"{len(seeds)} fresh seeds, {n} conditions: v1 / v2 holds in |",
             "|---|---|---|"]
    v2ref = reference.get("claims_v2") or [None] * 5
    for j in range(5):
        cid = j + 1
        k1 = sum(bool(c["claims"][j]["holds"]) and c["claims"][j].get("tested", True)
                 is not False for c in conds)
        k2 = sum(bool(c["claims_v2"][j]["holds"]) and c["claims_v2"][j].get("tested", True)
                 is not False for c in conds)
        lines.append(f"| {cid}. {SHORT_TEXT[cid]} | {verdict(reference['claims'][j])} / "
                     f"{verdict(v2ref[j])}{_p(v2ref[j])} | {k1} / **{k2}** of {n} |")
    ret = reference["final_return_mean"]
    sd = reference["final_return_sd"]
    lines.append("")
    lines.append(f"Reference run: `python -m experiments.sweep --seeds 5`, final return FO "
                 f"{ret['fo']:.0f} ± {sd['fo']:.0f}, PO {ret['po']:.0f} ± {sd['po']:.0f} "
                 f"(mean ± sd over seeds; p: the deciding test of rules v2). Atlas: seeds "
                 f"{seeds[0]}–{seeds[-1]}, conditions "
                 + "; ".join(condition_name(c) for c in conds) + ".")
    return "\n".join(lines)


def _fmt(x, d=3) -> str:
    return "n/a" if x is None else f"{x:.{d}g}"


def _cell(cl: dict) -> str:
    if cl.get("tested") is False:
        return "not tested"
    ci = cl.get("ci") or [None, None]
    return (f"{verdict(cl)}: {_fmt(cl.get('effect'))} [{_fmt(ci[0])}, {_fmt(ci[1])}], "
            f"p {_fmt(cl.get('p_value'), 2)}")


def atlas_table(atlas: dict) -> str:
    """Per claim and condition: the v2 verdict with its deciding effect [95% CI] and p,
    and the v1 verdict; then the final returns."""
    conds = atlas["conditions"]
    texts = conds[0]["claim_texts"]
    head = "| claim | rules | " + " | ".join(condition_name(c) for c in conds) + " |"
    lines = [head, "|---|---|" + "---|" * len(conds)]
    for j, cid in enumerate(sorted(texts, key=int)):
        lines.append(f"| {cid}. {SHORT_TEXT[int(cid)]} | v2 | "
                     + " | ".join(_cell(c["claims_v2"][j]) for c in conds) + " |")
        lines.append("| | v1 | " + " | ".join(_cell(c["claims"][j]) for c in conds) + " |")
    for o in ("fo", "po"):
        cells = []
        for c in conds:
            r = c["final_return"][o]
            sd = "n/a" if r["sd"] is None else f"{r['sd']:.0f}"
            cells.append("n/a" if r["mean"] is None else f"{r['mean']:.0f} ± {sd} (n {r['n']})")
        lines.append(f"| final return, {o.upper()} | | " + " | ".join(cells) + " |")
    seeds = atlas["seeds"]
    lines.append("")
    lines.append(f"Seeds {seeds[0]}–{seeds[-1]} × {{FO, PO}} per condition. Each cell: the "
                 "deciding test's effect, its two-sided 95% CI and its one-sided p "
                 "([methods](methods.md) §6 for v1, §7 for v2); final return: mean ± sd "
                 "over seeds of 16 deterministic episodes per agent.")
    return "\n".join(lines)


def progress_table(atlas: dict) -> str:
    """PO seeds aligned on their own learning progress (the first analysed checkpoint with
    10%, 50%, 90% of each seed's return gain), per condition: mean update, geometric-mean
    τ̄, and the fraction of seeds with a location-qualified stable and unstable fixed point
    at the goal input (rules v2's gates)."""
    lines = ["| condition | progress | mean update | τ̄ (steps, geometric mean) | "
             "qualified stable point | qualified unstable point |", "|---|---|---:|---:|---:|---:|"]
    for c in atlas["conditions"]:
        for f, d in (c.get("progress_aligned") or {}).items():
            lines.append(f"| {condition_name(c)} | {f} | {_fmt(d['mean_update'])} | "
                         f"{_fmt(d['tau_gmean'])} | {_fmt(d['frac_stable_goal'], 2)} | "
                         f"{_fmt(d['frac_unstable_hanging'], 2)} |")
    return "\n".join(lines)


def replace_between(text: str, start: str, end: str, body: str) -> str:
    """`text` with what lies between the markers `start` and `end` replaced by `body`."""
    if start not in text or end not in text:
        raise ValueError(f"markers {start} … {end} not found")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{body.strip()}\n{end}{tail}"


def nulls_table(shuffled_never: dict, drift: dict) -> str:
    """Fraction of null draws in which each claim does not hold, per null and rule version
    (from two `python -m experiments.nulls` outputs: one with the shuffled and
    never-trained nulls, one with the drift null)."""
    lines = ["| null | rules | 1 | 2 | 3 | 4 | 5 |", "|---|---|---:|---:|---:|---:|---:|"]

    def row(name, entry, version):
        cells = " | ".join(f"{entry[version][str(k)]:g}" for k in range(1, 6))
        return f"| {name} | {version} | {cells} |"

    sh = shuffled_never["shuffled"]
    for v in ("v1", "v2"):
        lines.append(row(f"shuffled checkpoints ({sh['draws']} draws)", sh, v))
    for v in ("v1", "v2"):
        lines.append(row("never trained", shuffled_never["never_trained"], v))
    dr = drift["drift"]
    for v in ("v1", "v2"):
        lines.append(row(f"drift ({dr['draws']} draws)", dr, v))
    return "\n".join(lines)
