"""How the paper's analysis writes numbers: JSON-ready floats and short text."""
from __future__ import annotations

import math

import numpy as np

__all__ = ["json_float", "json_floats", "fmt", "fmt_p", "fmt_list", "fmt_stat", "pct", "rad"]


def json_float(x, digits: int = 6):
    """A JSON-ready float rounded to `digits` significant digits (None for NaN/inf)."""
    if x is None:
        return None
    x = float(x)
    if not math.isfinite(x):
        return None
    return float(f"{x:.{digits}g}")


def json_floats(a, digits: int = 6):
    """Nested lists of `_f` floats (None for NaN)."""
    a = np.asarray(a, np.float64)
    return [json_floats(x, digits) for x in a] if a.ndim else json_float(a, digits)


def pct(c: float) -> str:
    return f"{100 * c:g}%"


def rad(x: float) -> str:
    """An angle in radians, as a multiple of π where it is one (π/4, 3π/4), else a number."""
    for den in (1, 2, 3, 4, 6, 8, 12):
        num = x * den / math.pi
        if abs(num - round(num)) < 1e-9 and round(num) > 0:
            n = round(num)
            return f"{'' if n == 1 else n}π" + ("" if den == 1 else f"/{den}")
    return f"{x:.3g} rad"


def fmt(x, digits: int = 3) -> str:
    if x is None:
        return "n/a"
    x = float(x)
    return f"{x:.{digits}g}" if math.isfinite(x) else "n/a"


def fmt_p(p) -> str:
    if p is None or not math.isfinite(float(p)):
        return "n/a"
    p = float(p)
    return f"{p:.2g}" if p >= 1e-3 else f"{p:.1e}"


def fmt_list(a) -> str:
    return "[" + ", ".join(fmt(v, 2) for v in np.asarray(a, np.float64).tolist()) + "]"


# ----------------------------------------------------------------------------- figures

def fmt_stat(st, digits: int = 3) -> str:
    """"0.42 [0.31, 0.53], p 0.002, n 5"."""
    return (f"{fmt(st.effect, digits)} [{fmt(st.ci[0], digits)}, {fmt(st.ci[1], digits)}], "
            f"p {fmt_p(st.p_value)}, n {st.n_seeds}")
