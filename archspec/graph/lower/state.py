"""What the lowering keeps while it walks a spec: scopes, the names in them, and the context of a body."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from archspec.errors import SourceLocation
from archspec.spec.tree import OpDefaults

MAX_NODES = 200_000
MAX_BLOCK_DEPTH = 32
MAX_REPEAT = 100_000
"""As in the language model; checked again here for counts that come from expressions."""


@dataclass
class Ref:
    """What a name in a scope stands for."""

    node: str | None
    """The node whose output the name stands for (None if it failed to lower)."""
    scope: str | None = None
    """For blocks and named repeats: the scope path, so dotted references can reach inside."""
    location: SourceLocation | None = None
    container: bool = False
    """A container of layers named ``container.member``: a name to reach into, with no output of its own."""


@dataclass
class DeclaredName:
    """A name written in a body, known before its layer is lowered (for "used before it is defined")."""

    location: SourceLocation | None
    inputs: tuple[str, ...]


@dataclass
class ScopeState:
    """One scope being filled: its path, its input, and the names defined in it so far."""

    path: str
    input: str | None
    declared: dict[str, DeclaredName]
    names: dict[str, Ref] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)

    def qualify(self, local: str) -> str:
        return f"{self.path}.{local}" if self.path else local


@dataclass(frozen=True)
class Context:
    """What a body sees: the variables in scope, the op defaults that apply, the blocks being called."""

    env: dict[str, Any]
    defaults: tuple[OpDefaults, ...]
    """The spec's op defaults, then each enclosing block's."""
    blocks_on_stack: tuple[str, ...] = ()

    def with_variable(self, name: str, value: Any) -> Context:
        return Context({**self.env, name: value}, self.defaults, self.blocks_on_stack)
