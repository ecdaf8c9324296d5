"""Looking objects up by name and config, the one way every `get()` in dlc works.

Keras code names things in several spellings: `'he_normal'`, `'HeNormal'`,
`{'class_name': 'HeNormal', 'config': {'seed': 1}}`, the class itself or an instance. A
`Registry` holds one family's names (activations, initializers, regularizers, losses,
metrics, optimizers) and resolves all of them, with Keras's message for an unknown name plus
the nearest known names. Configs only ever name classes registered here: nothing in a config
runs code.

Example:

>>> reg = Registry("initializer", Initializer, {"zeros": Zeros})
>>> reg.get("zeros")
"""
from __future__ import annotations

import difflib
import types
from typing import Any, Callable, Dict, List, Optional, Tuple


def closest(name: str, candidates: List[str], n: int = 3) -> str:
    """' Did you mean ...?' for the names in `candidates` nearest to `name`, or ''."""
    near = difflib.get_close_matches(name, candidates, n=n, cutoff=0.6)
    if not near:
        lowered = {c.lower(): c for c in candidates}
        near = [lowered[m] for m in difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.6)]
    return f" Did you mean {' or '.join(repr(c) for c in near)}?" if near else ""


class Registry:
    """The names of one family of objects.

    Args:
        kind: what the family is called in messages ('initializer', 'loss', ...).
        base: the family's base class (instances pass through `get` unchanged).
        names: `{name: factory}`; a factory is a class or a function returning an instance.
            Class names are added automatically.
    """

    def __init__(self, kind: str, base: type, names: Dict[str, Callable[..., Any]]) -> None:
        self.kind, self.base = kind, base
        self.names: Dict[str, Callable[..., Any]] = dict(names)
        for factory in list(names.values()):
            if isinstance(factory, type):
                self.names.setdefault(factory.__name__, factory)

    def public_names(self) -> List[str]:
        """The snake-case names, for messages."""
        return sorted(k for k in self.names if not k[:1].isupper())

    def lookup(self, name: str) -> Callable[..., Any]:
        """The factory registered as `name`, or ValueError naming the nearest ones."""
        factory = self.names.get(name)
        if factory is None:
            factory = self.names.get(name.lower()) if isinstance(name, str) else None
        if factory is None:
            raise ValueError(f"Unknown {self.kind} {name!r}; expected one of {self.public_names()}."
                             + closest(str(name), list(self.names)))
        return factory

    def get(self, identifier: Any, **default_kwargs: Any) -> Any:
        """An instance from a name, a `{'class_name', 'config'}` dict, a class or an instance."""
        if isinstance(identifier, self.base):
            return identifier
        if isinstance(identifier, str):
            return self.lookup(identifier)(**default_kwargs)
        if isinstance(identifier, dict) and "class_name" in identifier:
            return self.lookup(identifier["class_name"])(**dict(identifier.get("config") or {}))
        if isinstance(identifier, type) and issubclass(identifier, self.base):
            return identifier(**default_kwargs)
        raise TypeError(f"Could not interpret {self.kind} {identifier!r}: pass a name such as "
                        f"{self.public_names()[0]!r}, a config dict or a dlc {self.kind} object")


def serialize(obj: Any) -> Optional[Dict[str, Any]]:
    """`{'class_name': ..., 'config': obj.get_config()}` (None stays None)."""
    if obj is None:
        return None
    return {"class_name": type(obj).__name__, "config": obj.get_config()}


class Configurable:
    """An object rebuilt from `get_config()` by `from_config(config)` = `cls(**config)`;
    `get_config()` reports the constructor arguments named in `_config`, each read from the
    attribute of the same name."""

    _config: Tuple[str, ...] = ()

    def get_config(self) -> Dict[str, Any]:
        return {key: getattr(self, key) for key in self._config}

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> Any:
        return cls(**config)


def public_names(namespace: Dict[str, Any]) -> List[str]:
    """The names a user should see in a dlc module: its `__all__` when it has one, else what
    it defines or re-exports from dlc (and its dlc submodules), without the typing helpers,
    NumPy and `__future__` names it imports for itself."""
    if "__all__" in namespace:
        return sorted(set(namespace["__all__"]))
    names = []
    for key, value in namespace.items():
        if key.startswith("_"):
            continue
        if isinstance(value, types.ModuleType):
            if value.__name__.startswith("dlc."):
                names.append(key)
            continue
        origin = getattr(value, "__module__", None)
        if isinstance(origin, str) and (not origin.startswith("dlc") or origin == "dlc._registry"):
            continue
        names.append(key)
    return sorted(names)


def missing_attribute(module_name: str, namespace: Dict[str, Any]) -> Callable[[str], Any]:
    """A module `__getattr__` that answers a name the module lacks with Keras's kind of
    message and the nearest public names it has."""

    def __getattr__(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        public = [k for k in public_names(namespace) if not isinstance(namespace.get(k), types.ModuleType)]
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}: dlc does not "
                             f"provide it." + closest(name, public))

    return __getattr__


def module_namespace(module_name: str, namespace: Dict[str, Any]) -> Tuple[Callable[[str], Any], Callable[[], List[str]]]:
    """A module's `__getattr__` (see `missing_attribute`) and `__dir__` (its `public_names`),
    so `dir(dlc.layers)` lists what a user can use, as `dir(keras.layers)` does."""
    return missing_attribute(module_name, namespace), lambda: public_names(namespace)
