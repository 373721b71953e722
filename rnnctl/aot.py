"""Warm starts without tracing: the training programs, exported once per machine.

JAX's persistent compilation cache (`compile_cache`) stores compiled programs, but finding
one still means tracing and lowering the Python function first to get its key; for the
training update that is seconds of Python on every start. `compiled` stores the lowered
program itself (`jax.export`, StableHLO) next to the compilation cache, keyed by
everything that could change it, so a later process with the same config and shapes
loads it, and the compilation cache then supplies the compiled code.

The key covers: the program's name, the `TrainConfig` (or any JSON-able `key`), the
argument structure, shapes, dtypes and shardings (the mesh's shape), the versions of jax,
jaxlib, flax, optax, gymnax and distrax, the backend and device kind, and a hash of
rnnctl's own source files. A change to any of them makes a new entry; an unreadable entry
is rebuilt. Entries live in `<compilation cache>/exported/`; delete the folder to reclaim
the space.

Used only where it can help and cannot change results: one process (on one device, or
sharded over several) with the compilation cache on. Otherwise (and when jax's
serialization, which needs the `flatbuffers` package, is unavailable) `compiled` lowers
and compiles as usual. The
exported program is the same StableHLO that `jit` lowers, so the numbers are identical
(tested bitwise).
"""
from __future__ import annotations

import functools
import hashlib
import json
import pickle
from pathlib import Path
from typing import Any, Callable

__all__ = ["compiled", "export_dir", "FORMAT"]

FORMAT = 1
_PACKAGES = ("jax", "jaxlib", "flax", "optax", "gymnax", "distrax")


def export_dir() -> Path | None:
    """`<jax's compilation cache dir>/exported`, or None when that cache is off."""
    import jax
    base = jax.config.jax_compilation_cache_dir
    return Path(base) / "exported" if base else None


@functools.cache
def _source_hash() -> str:
    """sha256 of every .py file of the rnnctl package (the code that builds programs)."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _versions() -> dict:
    from rnnctl.provenance import package_versions
    return package_versions(_PACKAGES)


def _serialization_available() -> bool:
    try:
        import flatbuffers  # noqa: F401  (jax.export's serializer needs it)
    except ImportError:
        return False
    return True


def _sharding_text(leaf) -> str:
    import jax
    sharding = getattr(leaf, "sharding", None)
    if isinstance(sharding, jax.sharding.NamedSharding):
        return f"{dict(sharding.mesh.shape)} {sharding.spec}"
    return "one device" if sharding is None or len(sharding.device_set) == 1 else str(sharding)


def _entry_key(name: str, key: Any, in_tree, leaves) -> str:
    import jax
    device = jax.devices()[0]
    material = {
        "format": FORMAT, "name": name, "key": key, "tree": str(in_tree),
        "avals": [(tuple(getattr(a, "shape", ())), str(getattr(a, "dtype", type(a))))
                  for a in leaves],
        # how the arguments lie over devices (a sharded program takes sharded arguments)
        "shardings": sorted({_sharding_text(a) for a in leaves}),
        "versions": _versions(), "platform": device.platform,
        "device_kind": getattr(device, "device_kind", ""), "source": _source_hash(),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()
                          ).hexdigest()


def _load(path: Path):
    from jax import export
    with open(path, "rb") as f:
        entry = pickle.load(f)
    if entry.get("format") != FORMAT:
        raise ValueError("format")
    return export.deserialize(bytearray(entry["exported"])), entry["out_tree"]


def _store(path: Path, exported, out_tree) -> None:
    from rnnctl.runs import atomic_write
    blob = pickle.dumps({"format": FORMAT, "exported": exported.serialize(),
                         "out_tree": out_tree})
    try:
        atomic_write(path, lambda f: f.write(blob))
    except OSError:
        pass            # a cache that cannot be written only costs the next start time


def compiled(name: str, fn: Callable, args: tuple, key: Any, use_export: bool = True,
             lower: Callable | None = None) -> Callable:
    """`fn` compiled for `args` (a tuple of pytrees): a callable taking the same pytrees
    and returning what `fn` returns.

    Args:
      name: the program's name ("run1"), part of the key.
      fn: a function of `*args`, traceable by jax (jitted or not).
      args: example arguments (their structure, shapes and dtypes are compiled in).
      key: JSON-able description of what `fn` closes over (e.g. `config.to_dict()`).
      use_export: False forces plain lowering (e.g. with several processes).
      lower: how to lower `fn` without the export (default: `fn.lower` for a jitted
        `fn`, else `jax.jit(fn).lower`).
    """
    import jax
    leaves, in_tree = jax.tree.flatten(args)
    where = export_dir() if use_export and _serialization_available() else None
    if where is None:
        lower = lower or getattr(fn, "lower", None) or jax.jit(fn).lower
        return lower(*args).compile()
    from jax import export
    path = where / f"{name}-{_entry_key(name, key, in_tree, leaves)[:40]}.jaxexport"
    exported = out_tree = None
    if path.is_file():
        try:
            exported, out_tree = _load(path)
        except Exception:   # damaged or from another format: rebuild it
            exported = None
    if exported is None:
        box = {}

        def flat(*flat_args):
            out = fn(*jax.tree.unflatten(in_tree, flat_args))
            out_leaves, box["tree"] = jax.tree.flatten(out)
            return out_leaves

        exported = export.export(jax.jit(flat))(*leaves)
        out_tree = box["tree"]
        _store(path, exported, out_tree)

    def load(*flat_args):
        return exported.call(*flat_args)

    load.__name__ = load.__qualname__ = f"exported_{name}"   # names it in jax's logs
    program = jax.jit(load).lower(*leaves).compile()

    def call(*call_args):
        return jax.tree.unflatten(out_tree, program(*jax.tree.leaves(call_args)))

    return call
