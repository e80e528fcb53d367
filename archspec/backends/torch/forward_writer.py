"""Writing ``forward``: straight-line code, one statement per step, variables reused as values die.
"""

from __future__ import annotations

import keyword
import re
from collections import defaultdict
from typing import TYPE_CHECKING

from archspec.backends.torch.classes import ModuleClass, shortcut_attribute
from archspec.backends.torch.module_plan import (
    LayerMember,
    Member,
    RepeatMember,
    ShortcutMember,
    Step,
)
from archspec.backends.torch.pyformat import INDENT, is_atom, member_access

if TYPE_CHECKING:
    from archspec.backends.torch.class_writer import ClassWriter

GENERIC_VARIABLES = ("x", "out")
"""The variables of the main line of a forward."""


class ForwardWriter:
    """A straight-line ``forward``: one statement per step, variables reused as values die.

    The main line of computation runs through ``x`` and ``out``, as people write it; a value held
    for a join (a branch of a concatenation) is named after its layer.  A call whose result is
    used once, by the join right after it, is written inside the join: ``out += self.shortcut(x)``.
    """

    def __init__(self, writer: ClassWriter, module_class: ModuleClass):
        self.writer = writer
        self.module_class = module_class
        self.plan = module_class.representative
        self.steps, self.aliases = self._steps()
        self.uses: dict[str, list[int]] = defaultdict(list)
        """Value -> the steps reading it (``len(steps)`` for the return)."""
        for position, step in enumerate(self.steps):
            for value in step.inputs:
                self.uses[value].append(position)
        for value in self.plan.exports:
            self.uses[self.aliases.get(value, value)].append(len(self.steps))
        self.text: dict[str, str] = {}
        """Value -> how it is written: a variable, or an inlined call."""
        self.variable: dict[str, str] = {}
        """Value -> the variable holding it."""
        self.holding: dict[str, str] = {}
        """Variable -> the value it holds now."""
        self.deferred: list[str] = []
        """Values whose last use was inlined into the next statement: released after it."""

    def lines(self) -> list[str]:
        plan = self.plan
        arguments = []
        for position, value in enumerate(plan.imports):
            name = "x" if position == 0 else self._fresh(self.writer.graph.node(value).local_name)
            self._hold(name, value)
            arguments.append(f"{name}: Tensor")
        returns = "Tensor" if len(plan.exports) == 1 else f"tuple[{', '.join(['Tensor'] * len(plan.exports))}]"
        if not plan.exports:
            returns = "None"
        named = self.module_class is self.writer.classes.root and self.writer.graph.several_outputs
        training_only = self._training_only_steps() if named else set()
        body: list[str] = []
        guarded = False
        for position, step in enumerate(self.steps):
            statement = self._statement(position, step)
            if position in training_only and statement:
                body += ([] if guarded else ["if self.training:"]) + [INDENT + line for line in statement]
            elif statement:
                body += statement
            guarded = position in training_only and (guarded or bool(statement))
        results = [self.text[self.aliases.get(value, value)] for value in plan.exports]
        if named:
            returns, lines = self._named_return(results)
            body += lines[1:] if guarded and lines[0] == "if self.training:" else lines
        else:
            body.append(f"return {', '.join(results)}" if results else "return None")
        head = f"{INDENT}def forward({', '.join(['self', *arguments])}) -> {returns}:"
        return [head, *(INDENT * 2 + line for line in body)]

    def _training_only_steps(self) -> set[int]:
        """Steps that only training-only outputs need: written under ``if self.training:``."""
        graph = self.writer.graph
        needed = {self.aliases.get(output.node, output.node) for output in graph.inference_outputs}
        training_only: set[int] = set()
        for position in range(len(self.steps) - 1, -1, -1):
            step = self.steps[position]
            if needed.intersection(step.outputs):
                needed.update(step.inputs)
            else:
                training_only.add(position)
        return training_only

    def _named_return(self, results: list[str]) -> tuple[str, list[str]]:
        """The network's outputs as its named tuple; in eval mode without the training-only ones, a lone
        inference output as the tensor itself (as torchvision's Inception3 and GoogLeNet return)."""
        graph = self.writer.graph
        name = self.writer.outputs_class
        fields = [f"{output.name}={result}" for output, result in zip(graph.outputs, results, strict=True)]
        if len(graph.inference_outputs) == len(graph.outputs):
            return name, [f"return {name}({', '.join(fields)})"]
        inference = [f"{output.name}={result}" if not output.training_only else f"{output.name}=None"
                     for output, result in zip(graph.outputs, results, strict=True)]
        if len(graph.inference_outputs) == 1:
            (main,) = [result for output, result in zip(graph.outputs, results, strict=True)
                       if not output.training_only]
            return f"Tensor | {name}", ["if self.training:", f"{INDENT}return {name}({', '.join(fields)})",
                                        f"return {main}"]
        return name, ["if self.training:", f"{INDENT}return {name}({', '.join(fields)})",
                      f"return {name}({', '.join(inference)})"]

    def _steps(self) -> tuple[list[Step], dict[str, str]]:
        """Steps with always-identity shortcuts dropped (their value is their input's)."""
        aliases: dict[str, str] = {}
        steps: list[Step] = []
        for step in self.plan.steps:
            inputs = tuple(aliases.get(value, value) for value in step.inputs)
            if step.member is not None and self._flag(step) is False:
                aliases[step.outputs[0]] = inputs[0]
                continue
            steps.append(Step(inputs, step.outputs, step.member, step.item, step.node, step.inplace))
        return steps, aliases

    def _flag(self, step: Step) -> str | bool | None:
        assert step.member is not None
        member = self.plan.members[step.member]
        if not isinstance(member, ShortcutMember):
            return None
        return self.module_class.flags.get(step.member, member.module is not None)

    def _statement(self, position: int, step: Step) -> list[str]:
        arguments = [self.text[value] for value in step.inputs]
        dying = [v for v in dict.fromkeys(step.inputs) if max(self.uses[v]) == position and v in self.variable]
        dying += [v for v in self.deferred if v not in dying]
        self.deferred = []
        if step.member is None:
            assert step.node is not None
            if step.inplace:
                target = self.variable[step.inputs[0]]
                self._release(dying)
                self._hold(target, step.outputs[0])
                return [f"{target} {step.node.definition.torch_inplace_operator} {arguments[1]}"]
            node = step.node
            expression = str(node.definition.torch_expression(node.params, arguments))
        else:
            expression = self._call(step, arguments)
            flag = self._flag(step)
            if isinstance(flag, str):
                return self._optional(step, expression, dying, arguments[0])
            if self._inlined(position, step):
                self.text[step.outputs[0]] = expression if is_atom(expression) else f"({expression})"
                self.deferred = dying
                return []
        return [f"{', '.join(self._targets(step, dying))} = {expression}"]

    def _inlined(self, position: int, step: Step) -> bool:
        """Used once, by the join that comes next (and not as the variable it accumulates into)."""
        if len(step.outputs) != 1 or self.uses.get(step.outputs[0]) != [position + 1] or (
                position + 1 == len(self.steps)):
            return False
        following = self.steps[position + 1]
        return following.member is None and not (following.inplace and following.inputs[0] == step.outputs[0])

    def _call(self, step: Step, arguments: list[str]) -> str:
        assert step.member is not None
        member = self.plan.members[step.member]
        if isinstance(member, ShortcutMember):
            callee = member_access(shortcut_attribute(self.module_class, step.member, member))
        else:
            callee = member_access(member.attribute) + _item(member, step.item)
        if isinstance(member, RepeatMember) and step.item is not None:
            item = member.items[step.item]
            if isinstance(item, LayerMember):
                return item.layer.forward.format(*arguments, module=callee)
        if isinstance(member, LayerMember):
            return member.layer.forward.format(*arguments, module=callee)
        return f"{callee}({', '.join(arguments)})"

    def _optional(self, step: Step, expression: str, dying: list[str], argument: str) -> list[str]:
        """A shortcut only some instances have: ``if self.shortcut is not None: x = self.shortcut(x)``."""
        assert step.member is not None
        member = self.plan.members[step.member]
        assert isinstance(member, ShortcutMember)
        attribute = shortcut_attribute(self.module_class, step.member, member)
        (target,) = self._targets(step, dying)
        first = [] if target == argument else [f"{target} = {argument}"]
        return [*first, f"if {member_access(attribute)} is not None:", f"{INDENT}{target} = {expression}"]

    def _targets(self, step: Step, dying: list[str]) -> list[str]:
        reusable = [self.variable[v] for v in dying]
        self._release(dying)
        targets = []
        for value in step.outputs:
            name = self._target(step, value, reusable)
            self._hold(name, value)
            targets.append(name)
        return targets

    def _target(self, step: Step, value: str, reusable: list[str]) -> str:
        for name in reusable:
            if name in GENERIC_VARIABLES:
                reusable.remove(name)
                return name
        if not self._held_for_join(value):
            for name in GENERIC_VARIABLES[::-1]:
                if name not in self.holding:
                    return name
        if reusable:
            return reusable.pop(0)
        return self._fresh(self._value_name(step, value))

    def _held_for_join(self, value: str) -> bool:
        """Read only by joins (a branch waiting for its concatenation), not the main line."""
        readers = self.uses.get(value, [])
        return bool(readers) and all(
            position < len(self.steps) and self.steps[position].member is None
            and not (self.steps[position].inplace and self.steps[position].inputs[0] == value)
            for position in readers)

    def _value_name(self, step: Step, value: str) -> str:
        member = self.plan.members[step.member] if step.member is not None else None
        if member is not None and not isinstance(member, LayerMember) and len(step.outputs) == 1:
            return member.attribute
        return value.rsplit(".", 1)[-1].split("#")[0]

    def _fresh(self, name: str) -> str:
        name = re.sub(r"\W", "_", name)
        if name[:1].isdigit():
            name = f"x{name}"
        while keyword.iskeyword(name) or name in self.holding or name in self.writer.reserved:
            name = f"{name}_"
        return name

    def _hold(self, name: str, value: str) -> None:
        self.holding[name] = value
        self.variable[value] = name
        self.text[value] = name

    def _release(self, values: list[str]) -> None:
        for value in values:
            name = self.variable.pop(value, None)
            if name is not None and self.holding.get(name) == value:
                del self.holding[name]


def _item(member: Member, item: int | None) -> str:
    """``[2]`` for a numbered repeat's iteration, ``['denselayer3']`` for one with ``names:``."""
    if item is None:
        return ""
    if isinstance(member, RepeatMember) and not member.numbered:
        return f"[{member.item_names[item]!r}]"
    return f"[{item}]"
