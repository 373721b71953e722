"""`python -m experiments.nulls`: the `rnnctl nulls` command, in a checkout.

The code is `rnnctl/cli/nulls.py`; installed, the same command is `rnnctl nulls`. Imported
(`from experiments import nulls`), this module is `rnnctl.cli.nulls` itself: the same names
and the same module object, so a test that patches one patches the other.
"""
import sys

PROG = "python -m experiments.nulls"

if __name__ == "__main__":
    from rnnctl.cli import run
    run("nulls", prog=PROG)
else:
    from rnnctl.cli import nulls as _cli
    _cli.PROG = PROG        # messages name the command as it is typed in a checkout
    sys.modules[__name__] = _cli
