"""CloudFormation intrinsic functions evaluated over template JSON.

The resolver turns a property value of a synthesized template into the value
CloudFormation would pass to the service, using the physical ids and attributes
of resources the runner already created in moto. Anything it cannot evaluate is
an :class:`IntrinsicError` naming the function and the resource, never a guess.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

__all__ = ["NO_VALUE", "IntrinsicError", "Lookup", "Pseudo", "Resolver"]


class IntrinsicError(ValueError):
    """An intrinsic function or reference the offline runner cannot evaluate."""


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()  # what Ref AWS::NoValue evaluates to; containers drop it

_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_DYNAMIC_REFERENCE = re.compile(r"\{\{resolve:([a-z-]+):([^}]*)\}\}")


class Lookup(Protocol):
    """What a stack's resolver needs from the runner."""

    def ref(self, stack: str, logical_id: str) -> Any: ...

    def get_att(self, stack: str, logical_id: str, attribute: str) -> Any: ...

    def export(self, name: str) -> Any: ...

    def stack_output(self, stack: str, output: str) -> Any: ...

    def dynamic_reference(self, service: str, key: str) -> str: ...


@dataclass(frozen=True)
class Pseudo:
    region: str
    account_id: str
    partition: str = "aws"
    url_suffix: str = "amazonaws.com"


@dataclass
class Resolver:
    """Evaluates intrinsics for one stack.

    ``parameters`` holds the values of the stack's ``Parameters`` (defaults, or
    looked up by the runner for SSM-typed ones).
    """

    stack: str
    template: Mapping[str, Any]
    pseudo: Pseudo
    lookup: Lookup
    parameters: Mapping[str, Any] = field(default_factory=dict)
    _conditions: dict[str, bool] = field(default_factory=dict)

    # -- public -----------------------------------------------------------------------------------

    def resolve(self, value: Any, where: str) -> Any:
        """Evaluate every intrinsic in ``value``; ``where`` names the resource in error messages."""
        resolved = self._resolve(value, where)
        return None if resolved is NO_VALUE else resolved

    def condition(self, name: str, where: str) -> bool:
        """Evaluate a named condition of the template (cached)."""
        if name not in self._conditions:
            conditions = self.template.get("Conditions", {})
            if name not in conditions:
                raise IntrinsicError(f"{where}: condition {name!r} is not defined in stack {self.stack}")
            self._conditions[name] = self._truth(conditions[name], f"{where} (condition {name})")
        return self._conditions[name]

    # -- evaluation -------------------------------------------------------------------------------

    def _resolve(self, value: Any, where: str) -> Any:
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, arg),) = value.items()
                if key == "Ref" or key.startswith("Fn::"):
                    return self._intrinsic(key, arg, where)
            resolved_dict = {key: self._resolve(item, where) for key, item in value.items()}
            return {key: item for key, item in resolved_dict.items() if item is not NO_VALUE}
        if isinstance(value, list):
            resolved_list = [self._resolve(item, where) for item in value]
            return [item for item in resolved_list if item is not NO_VALUE]
        if isinstance(value, str) and "{{resolve:" in value:
            return _DYNAMIC_REFERENCE.sub(lambda match: self.lookup.dynamic_reference(*match.groups()), value)
        return value

    def _intrinsic(self, name: str, arg: Any, where: str) -> Any:
        handler = self._functions.get(name)
        if handler is None:
            raise IntrinsicError(f"{where}: unsupported intrinsic function {name!r} (argument {arg!r})")
        return handler(arg, where)

    @cached_property
    def _functions(self) -> dict[str, Callable[[Any, str], Any]]:
        return {
            "Ref": self._ref,
            "Fn::GetAtt": self._get_att,
            "Fn::Join": self._join,
            "Fn::Sub": self._sub,
            "Fn::Select": self._select,
            "Fn::Split": self._split,
            "Fn::If": self._if,
            "Fn::ImportValue": self._import_value,
            "Fn::GetStackOutput": self._get_stack_output,
            "Fn::GetAZs": self._get_azs,
            "Fn::FindInMap": self._find_in_map,
            "Fn::Base64": lambda arg, where: base64.b64encode(self._string(arg, where).encode()).decode(),
            "Fn::ToJsonString": lambda arg, where: json.dumps(self._resolve(arg, where), separators=(",", ":")),
            "Fn::Length": lambda arg, where: len(self._list(arg, where)),
            "Fn::Equals": lambda arg, where: self._truth({"Fn::Equals": arg}, where),
            "Fn::Not": lambda arg, where: self._truth({"Fn::Not": arg}, where),
            "Fn::And": lambda arg, where: self._truth({"Fn::And": arg}, where),
            "Fn::Or": lambda arg, where: self._truth({"Fn::Or": arg}, where),
        }

    def _ref(self, arg: Any, where: str) -> Any:
        if not isinstance(arg, str):
            raise IntrinsicError(f"{where}: Ref takes a name, not {arg!r}")
        pseudo = self._pseudo(arg)
        if pseudo is not None:
            return pseudo
        if arg.startswith("AWS::"):
            raise IntrinsicError(f"{where}: unsupported pseudo parameter {arg!r}")
        if arg in self.parameters:
            return self.parameters[arg]
        return self.lookup.ref(self.stack, arg)

    def _pseudo(self, name: str) -> Any:
        values: dict[str, Any] = {
            "AWS::Region": self.pseudo.region,
            "AWS::AccountId": self.pseudo.account_id,
            "AWS::Partition": self.pseudo.partition,
            "AWS::URLSuffix": self.pseudo.url_suffix,
            "AWS::StackName": self.stack,
            "AWS::StackId": (
                f"arn:{self.pseudo.partition}:cloudformation:{self.pseudo.region}:{self.pseudo.account_id}"
                f":stack/{self.stack}/00000000-0000-0000-0000-000000000000"
            ),
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }
        return values.get(name)

    def _get_att(self, arg: Any, where: str) -> Any:
        if isinstance(arg, str) and "." in arg:
            logical_id, attribute = arg.split(".", 1)
        elif isinstance(arg, list) and len(arg) == 2:
            logical_id, attribute = arg[0], self._string(arg[1], where)
        else:
            raise IntrinsicError(f"{where}: malformed Fn::GetAtt {arg!r}")
        return self.lookup.get_att(self.stack, logical_id, attribute)

    def _join(self, arg: Any, where: str) -> str:
        if not (isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str)):
            raise IntrinsicError(f"{where}: malformed Fn::Join {arg!r}")
        return arg[0].join(self._scalar_text(item, where) for item in self._list(arg[1], where))

    def _sub(self, arg: Any, where: str) -> str:
        if isinstance(arg, str):
            text, variables = arg, {}
        elif isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str) and isinstance(arg[1], dict):
            text, variables = arg[0], arg[1]
        else:
            raise IntrinsicError(f"{where}: malformed Fn::Sub {arg!r}")

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"  # ${!Literal} is the literal text ${Literal}
            if name in variables:
                return self._scalar_text(self._resolve(variables[name], where), where)
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return self._scalar_text(self.lookup.get_att(self.stack, logical_id, attribute), where)
            return self._scalar_text(self._ref(name, where), where)

        return _SUB_VARIABLE.sub(replace, text)

    def _select(self, arg: Any, where: str) -> Any:
        if not (isinstance(arg, list) and len(arg) == 2):
            raise IntrinsicError(f"{where}: malformed Fn::Select {arg!r}")
        index = int(self._resolve(arg[0], where))
        items = self._list(arg[1], where)
        if not 0 <= index < len(items):
            raise IntrinsicError(f"{where}: Fn::Select index {index} out of range for {items!r}")
        return items[index]

    def _split(self, arg: Any, where: str) -> list[str]:
        if not (isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str)):
            raise IntrinsicError(f"{where}: malformed Fn::Split {arg!r}")
        return self._string(arg[1], where).split(arg[0])

    def _if(self, arg: Any, where: str) -> Any:
        if not (isinstance(arg, list) and len(arg) == 3 and isinstance(arg[0], str)):
            raise IntrinsicError(f"{where}: malformed Fn::If {arg!r}")
        return self._resolve(arg[1] if self.condition(arg[0], where) else arg[2], where)

    def _import_value(self, arg: Any, where: str) -> Any:
        return self.lookup.export(self._string(arg, where))

    def _get_stack_output(self, arg: Any, where: str) -> Any:
        if not isinstance(arg, dict) or "StackName" not in arg or "OutputName" not in arg:
            raise IntrinsicError(f"{where}: malformed Fn::GetStackOutput {arg!r}")
        return self.lookup.stack_output(self._string(arg["StackName"], where), self._string(arg["OutputName"], where))

    def _get_azs(self, arg: Any, where: str) -> list[str]:
        region = self._string(arg, where) or self.pseudo.region
        return [f"{region}{zone}" for zone in "abc"]

    def _find_in_map(self, arg: Any, where: str) -> Any:
        if not (isinstance(arg, list) and len(arg) in (3, 4)):
            raise IntrinsicError(f"{where}: malformed Fn::FindInMap {arg!r}")
        name, top, second = (self._string(item, where) for item in arg[:3])
        try:
            return self._resolve(self.template["Mappings"][name][top][second], where)
        except KeyError:
            if len(arg) == 4 and isinstance(arg[3], dict) and "DefaultValue" in arg[3]:
                return self._resolve(arg[3]["DefaultValue"], where)
            raise IntrinsicError(f"{where}: Fn::FindInMap found no {name}/{top}/{second}") from None

    def _truth(self, expression: Any, where: str) -> bool:
        if isinstance(expression, bool):
            return expression
        if isinstance(expression, str) and expression.lower() in ("true", "false"):
            return expression.lower() == "true"
        if isinstance(expression, dict) and len(expression) == 1:
            ((key, arg),) = expression.items()
            if key == "Condition":
                return self.condition(arg, where)
            if key == "Fn::Equals" and isinstance(arg, list) and len(arg) == 2:
                return bool(self._resolve(arg[0], where) == self._resolve(arg[1], where))
            if key == "Fn::Not" and isinstance(arg, list) and len(arg) == 1:
                return not self._truth(arg[0], where)
            if key == "Fn::And" and isinstance(arg, list):
                return all(self._truth(item, where) for item in arg)
            if key == "Fn::Or" and isinstance(arg, list):
                return any(self._truth(item, where) for item in arg)
            if key == "Fn::Contains" and isinstance(arg, list) and len(arg) == 2:
                return self._resolve(arg[1], where) in self._list(arg[0], where)
        raise IntrinsicError(f"{where}: unsupported condition expression {expression!r}")

    # -- coercion ---------------------------------------------------------------------------------

    def _string(self, value: Any, where: str) -> str:
        resolved = self._resolve(value, where)
        if not isinstance(resolved, (str, int, float)) or isinstance(resolved, bool):
            raise IntrinsicError(f"{where}: expected a string, got {resolved!r} from {value!r}")
        return str(resolved)

    def _scalar_text(self, value: Any, where: str) -> str:
        if isinstance(value, (dict, list)) or value is NO_VALUE:
            raise IntrinsicError(f"{where}: cannot place {value!r} inside a string")
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(self._resolve(value, where))

    def _list(self, value: Any, where: str) -> list[Any]:
        resolved = self._resolve(value, where)
        if not isinstance(resolved, list):
            raise IntrinsicError(f"{where}: expected a list, got {resolved!r} from {value!r}")
        return resolved
