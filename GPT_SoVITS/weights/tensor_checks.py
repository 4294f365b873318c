"""Checks on a checkpoint's tensors made before any array exists, and the key path of a refused one.

A tensor in a `torch.save` file is a view (offset, size, stride) of a storage. A hostile file of a few
hundred bytes can describe a view no real weight has: stride 0 repeating one element a billion times
(which the bfloat16 widening would copy out), dimensions whose product overflows, negative strides, two
indices reaching one element, or a view running past its storage. Weight files hold plain tensors and
permuted or sliced views of them (transposes, `w[:, ::2]`): their elements are distinct and inside the
storage, so they pass. A dimension of size 1 addresses one element whatever its stride (PyTorch's
`expand` leaves 0 there), so its stride is not held against it.

Refusals are made while unpickling, when the tensor's key is not known yet: the rebuild returns a
`Refused` in the tensor's place, and after unpickling `find_refused` names where it sits in the tree.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Iterator

# No size, stride or offset beyond 2**40 elements (a terabyte of bytes): the real bound on a non-empty
# tensor is its storage, this one keeps byte strides within numpy's int64 for empty tensors too.
MAX_INDEX = 2**40
MAX_DIMS = 32  # numpy's own limit (1.x); weights have at most 5


class Refused:
    """Stands in for a tensor (or storage) the reader refused, until its key path is known."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"Refused({self.reason!r})"


def _whole_numbers(values: Any) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) for v in values)


def geometry_problem(offset: Any, size: Any, stride: Any, storage_numel: int) -> str | None:
    """Why the view (offset, size, stride) cannot be a weight of a storage of `storage_numel` elements,
    or None when it is one: every index in range, no element reached twice."""
    if not (isinstance(size, tuple) and isinstance(stride, tuple) and _whole_numbers(size + stride + (offset,))):
        return f"size {size!r}, stride {stride!r} and offset {offset!r} must be whole numbers"
    if len(size) != len(stride):
        return f"size {size} and stride {stride} differ in length"
    if len(size) > MAX_DIMS:
        return f"{len(size)} dimensions, more than {MAX_DIMS}"
    if offset < 0 or min(size + stride, default=0) < 0:
        return f"negative size, stride or offset (size {size}, stride {stride}, offset {offset})"
    if max(size + stride + (offset,)) > MAX_INDEX:
        return f"size {size}, stride {stride} or offset {offset} is beyond {MAX_INDEX} elements"
    if 0 in size:
        return None if _empty_size_fits(size) else f"size {size} has more than {MAX_INDEX} elements"
    dims = sorted((s, n, i) for i, (n, s) in enumerate(zip(size, stride)) if n > 1)
    reach = 0  # the furthest element the dimensions with smaller strides reach, from the first one
    for s, n, i in dims:
        if s == 0:
            return f"stride 0 on dimension {i} of size {n} repeats one element {n} times (an expanded view)"
        if s <= reach:
            return (f"strides {stride} for size {size} overlap: dimension {i} steps into the elements "
                    "that smaller strides already span")
        reach += (n - 1) * s
    if offset + reach >= storage_numel:
        return (f"the view (offset {offset}, size {size}, stride {stride}) runs past its storage: it reaches "
                f"element {offset + reach}, the storage holds {storage_numel}")
    return None


def _empty_size_fits(size: tuple[int, ...]) -> bool:
    """numpy refuses a shape whose non-zero dimensions multiply past int64, even with a zero in it."""
    product = 1
    for n in size:
        product *= max(n, 1)
    return product <= MAX_INDEX


def find_refused(tree: Any) -> tuple[str, Refused] | None:
    """The first `Refused` in `tree` (depth first, in key order) with its key path, e.g.
    `weight['enc_p.proj.weight']`; None when there is none. Shared and cyclic containers (pickle's
    memo makes both) are walked once, so the walk is linear in the pickle's size."""
    seen: set[int] = set()
    stack: list[tuple[Any, tuple | None]] = [(tree, None)]  # (node, path as (key, parent path) links)
    while stack:
        node, path = stack.pop()
        if isinstance(node, Refused):
            return _render(path), node
        if id(node) in seen:
            continue
        children = list(_children(node))
        if children:
            seen.add(id(node))
            stack.extend((child, (key, path)) for key, child in reversed(children))
    return None


def _children(node: Any) -> Iterator[tuple[Any, Any]]:
    if isinstance(node, Mapping):  # dict, OrderedDict, HParams
        for key, value in node.items():
            yield key, key  # a refused tensor used as a key is named by itself
            yield key, value
    elif isinstance(node, (list, tuple)):
        yield from enumerate(node)
    elif isinstance(node, (set, frozenset)):
        yield from (("{...}", item) for item in node)


def _render(path: tuple | None) -> str:
    keys: list[Any] = []
    while path is not None:
        key, path = path
        keys.append(key)
    keys.reverse()
    if not keys:
        return "(the file's whole content)"
    head = keys[0] if isinstance(keys[0], str) else f"[{keys[0]!r}]"
    return head + "".join(f"[{key!r}]" for key in keys[1:])
