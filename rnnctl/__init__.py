"""rnnctl: recurrent neural network controllers trained with RL, and their dynamics.

`import rnnctl` stays light and changes nothing outside the package: the trainer and the
analysis load on first use, and neither XLA_FLAGS nor `sys.modules` is touched. (The
command-line tools set XLA's safe CPU flags themselves, `rnnctl.cli.prepare`; in your own
process, `rnnctl.apply_safe_xla_flags()` before jax starts does the same.)
"""
from rnnctl._version import __version__
from rnnctl._xla import apply_safe_xla_flags

__all__ = ["__version__", "apply_safe_xla_flags", "load_run", "make_train", "TrainConfig"]


def __getattr__(name):
    # Lazy attributes keep `import rnnctl` cheap (no jax compile, no gymnax import).
    if name == "load_run":
        from rnnctl.runs import load_run
        return load_run
    if name == "make_train":
        from rnnctl.ppo import make_train
        return make_train
    if name == "TrainConfig":
        from rnnctl.config import TrainConfig
        return TrainConfig
    if name == "analysis":
        import importlib
        return importlib.import_module("rnnctl.analysis")
    raise AttributeError(f"module 'rnnctl' has no attribute {name!r}")
