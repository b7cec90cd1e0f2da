"""Explicit name -> object registries (architectures, losses, methods, captioners, generators)."""
from __future__ import annotations

from typing import Callable, Generic, Iterator, TypeVar

from diffubias.errors import RegistryError

T = TypeVar("T")


class Registry(Generic[T]):
    """A named table filled by the ``register`` decorator; unknown names list the valid ones."""

    def __init__(self, kind: str, param: str = "") -> None:
        self.kind = kind
        self.param = param
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator adding ``obj`` under ``name``."""

        def deco(obj: T) -> T:
            if name in self._items:
                raise RegistryError(f"{self.kind} {name!r} registered twice")
            self._items[name] = obj
            return obj

        return deco

    def get(self, name: str) -> T:
        """The entry called ``name``."""
        try:
            return self._items[name]
        except KeyError:
            where = f" (set {self.param})" if self.param else ""
            raise RegistryError(
                f"unknown {self.kind} {name!r}{where}; valid names are {sorted(self._items)}"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
