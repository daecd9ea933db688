"""Which keys a Python stage reads: by parameter name, or positionally as the notebook did."""

import inspect
import re

__all__ = ["choose_args", "KEY"]

#: A key a stage may ask for by name: input, oid, f0…, and their _s forms.
KEY = re.compile(r"^(input|oid|f(0|[1-9][0-9]*))(_s)?$")


def _slot_of(name):
    m = re.match(r"^f(\d+)", name)
    return int(m.group(1)) if m else None


def positional_keys(slot):
    """The notebook's argument order for a stage at ``slot`` (``wrap_transform``): the previous
    stage first, down to the input, then the serialized forms in the same order."""
    raw = [f"f{k}" for k in reversed(range(slot))] + ["input"]
    return raw + [f"{k}_s" for k in raw]


def choose_args(func, slot):
    """The keys ``func`` reads at ``slot``, in parameter order.

    By name when every parameter is named after a key (``input``, ``oid``, ``f0``…,
    ``input_s``, ``f0_s``…), as ``#[stage]`` does in Rust; keyword-only parameters are
    always by name. When no parameter is named after a key, positionally, as the notebook's ``wrap_transform``: a function of
    n positional parameters gets the first n of ``f{slot-1}, …, f0, input, f{slot-1}_s, …,
    input_s``; ``*args`` gets them all. A callable without a signature (some builtins) gets
    one argument.

    Parameters with defaults keep their defaults. Raises TypeError for parameters of which some
    are named after keys and some not (a misspelt key), a keyword-only parameter that is no key, a by-name key not before
    ``slot``, or more positional parameters than there are keys to give.
    """
    if not callable(func):
        raise TypeError(f"the stage at slot {slot} must be callable, not {type(func).__name__}")
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return positional_keys(slot)[:1]

    name = getattr(func, "__name__", type(func).__name__)
    P = inspect.Parameter
    keyword_only = [p for p in params if p.kind is P.KEYWORD_ONLY and p.default is P.empty]
    for p in keyword_only:
        if not KEY.match(p.name):
            raise TypeError(
                f"stage `{name}`: keyword-only parameter `{p.name}` is no key: expected one of "
                f"input, oid, f0…f{max(slot - 1, 0)}, or their _s forms"
            )
    positional = [
        p for p in params
        if p.kind in (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD) and p.default is P.empty
    ]
    variadic = any(p.kind is P.VAR_POSITIONAL for p in params)

    named = positional + keyword_only
    if named and not variadic and all(KEY.match(p.name) for p in named):
        keys = [p.name for p in named]
        for key in keys:
            k = _slot_of(key)
            if k is not None and k >= slot:
                raise TypeError(
                    f"stage `{name}` at slot {slot} asks for `{key}`, but a stage may only ask "
                    f"for earlier slots (f0…f{slot - 1})" if slot else
                    f"stage `{name}` at slot 0 asks for `{key}`, but slot 0 has no earlier slot: "
                    "ask for `input`"
                )
        return keys

    keyed = [p.name for p in named if KEY.match(p.name)]
    if keyed and not variadic:
        others = [p.name for p in named if not KEY.match(p.name)]
        raise TypeError(
            f"stage `{name}`: parameter `{others[0]}` is no key, but `{keyed[0]}` is: name every "
            f"parameter after a key (input, oid, f0…, or their _s forms) to pick by name, or "
            f"none to take them positionally as the notebook did"
        )
    available = positional_keys(slot)
    if variadic:
        return available
    if keyword_only:
        raise TypeError(
            f"stage `{name}` mixes positional parameters with keyword-only keys: "
            "name every parameter after a key, or none"
        )
    if len(positional) > len(available):
        raise TypeError(
            f"stage `{name}` at slot {slot} takes {len(positional)} positional arguments, but "
            f"only {len(available)} keys come before it ({', '.join(available)})"
        )
    return available[: len(positional)]
