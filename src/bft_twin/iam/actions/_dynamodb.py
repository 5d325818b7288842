"""DynamoDB: item, query, batch and transaction calls with their leading keys and attributes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bft_twin.iam.actions._base import ActionRequest, Call, World
from bft_twin.iam.actions._common import Mapper, resource_tag_context, unmapped
from bft_twin.iam.actions._kms import kms_request
from bft_twin.iam.model import ContextValue, Undecidable, Unknown

# Writes: dynamodb:Attributes holds the attributes the request writes (DynamoDB developer guide, "Using IAM
# policy conditions for fine-grained access control"), which the mapper computes only for PutItem.
_WRITES = frozenset(
    {"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem"}
)


def _ddb_scalar(value: Any) -> str:
    """A key value as a string: plain Python (resource API) or a typed AttributeValue ({"S": "x"})."""
    if isinstance(value, Mapping) and len(value) == 1:
        ((kind, inner),) = value.items()
        if kind in ("S", "N", "B"):
            return inner.decode() if isinstance(inner, bytes) else str(inner)
    if isinstance(value, bytes):
        return value.decode()
    return str(value)


def _table_name(ref: str) -> str:
    return ref.split(":table/", 1)[1].split("/", 1)[0] if ref.startswith("arn:") else ref


def _table_arn(call: Call, table: str, index: str | None = None) -> str:
    arn = f"arn:aws:dynamodb:{call.region}:{call.account}:table/{table}"
    return f"{arn}/index/{index}" if index else arn


def _resolve_names(expression: str, names: Mapping[str, str]) -> str:
    return re.sub(r"#[A-Za-z0-9_]+", lambda m: names.get(m.group(0), m.group(0)), expression)


def _projection(params: Mapping[str, Any]) -> list[str] | None:
    if params.get("ProjectionExpression"):
        text = _resolve_names(str(params["ProjectionExpression"]), params.get("ExpressionAttributeNames") or {})
        return sorted({part.strip().split(".")[0].split("[")[0] for part in text.split(",")})
    if params.get("AttributesToGet"):
        return sorted(params["AttributesToGet"])
    return None


def _query_partition_value(call: Call, world: World, table: str) -> str:
    p = call.params
    expression = p.get("KeyConditionExpression")
    if expression is not None and not isinstance(expression, str):
        from boto3.dynamodb.conditions import ConditionExpressionBuilder

        built = ConditionExpressionBuilder().build_expression(expression, is_key_condition=True)
        expression = built.condition_expression
        names = built.attribute_name_placeholders
        values = built.attribute_value_placeholders
    else:
        names = p.get("ExpressionAttributeNames") or {}
        values = p.get("ExpressionAttributeValues") or {}
    partition = world.table_partition_key(table)
    if expression is None:
        for name, condition in (p.get("KeyConditions") or {}).items():
            if name == partition and condition.get("ComparisonOperator") == "EQ":
                return _ddb_scalar(condition["AttributeValueList"][0])
        raise Undecidable(f"dynamodb:Query on {table} without a partition key condition")
    for clause in re.split(r"\s+AND\s+", expression, flags=re.IGNORECASE):
        match = re.fullmatch(r"\s*\(?\s*([#\w.]+)\s*=\s*(:\w+)\s*\)?\s*", clause)
        if match and _resolve_names(match.group(1), names) == partition:
            return _ddb_scalar(values[match.group(2)])
    raise Undecidable(
        f"dynamodb:Query on {table}: no equality on partition key {partition!r} found in {expression!r} "
        "(src/bft_twin/iam/actions/_dynamodb.py, _query_partition_value)"
    )


def _ddb_request(
    call: Call,
    world: World,
    action: str,
    table: str,
    *,
    leading_keys: list[str] | None = None,
    attributes: list[str] | None = None,
    index: str | None = None,
) -> list[ActionRequest]:
    context: dict[str, ContextValue] = {}
    if leading_keys is not None:
        context["dynamodb:LeadingKeys"] = sorted(set(leading_keys))
    if attributes is not None:
        context["dynamodb:Attributes"] = attributes
    elif action in _WRITES or (action == "dynamodb:PutItem" and call.operation != "PutItem"):
        context["dynamodb:Attributes"] = Unknown(f"the attributes {call.operation} writes are not computed offline")
    for param, key in (("ReturnValues", "dynamodb:ReturnValues"), ("Select", "dynamodb:Select")):
        if call.params.get(param):
            context[key] = str(call.params[param])
    arn = _table_arn(call, table, index)
    context.update(resource_tag_context(world, _table_arn(call, table)))
    requests = [ActionRequest(action=action, resource=arn, context=context, resource_policy=None)]
    kms_key = world.table_kms_key(table)
    if kms_key and action != "dynamodb:DescribeTable":
        requests.append(
            kms_request(
                world,
                call,
                "kms:Decrypt",
                kms_key,
                encryption_context={"aws:dynamodb:tableName": table, "aws:dynamodb:subscriberId": call.account},
                via="dynamodb",
                implicit="table encrypted with a customer managed key, read or written via DynamoDB",
            )
        )
    return requests


def _key_value(world: World, table: str, key: Mapping[str, Any]) -> str:
    return _ddb_scalar(key[world.table_partition_key(table)])


def map_dynamodb(call: Call, world: World) -> list[ActionRequest]:
    p, op = call.params, call.operation
    if op in ("GetItem", "DeleteItem", "UpdateItem"):
        table = _table_name(p["TableName"])
        attributes = _projection(p) if op == "GetItem" else None
        return _ddb_request(
            call,
            world,
            f"dynamodb:{op}",
            table,
            leading_keys=[_key_value(world, table, p["Key"])],
            attributes=attributes,
        )
    if op == "PutItem":
        table = _table_name(p["TableName"])
        item = p["Item"]
        return _ddb_request(
            call,
            world,
            "dynamodb:PutItem",
            table,
            leading_keys=[_key_value(world, table, item)],
            attributes=sorted(item),
        )
    if op == "Query":
        table = _table_name(p["TableName"])
        value = _query_partition_value(call, world, table)
        return _ddb_request(
            call,
            world,
            "dynamodb:Query",
            table,
            leading_keys=[value],
            attributes=_projection(p),
            index=p.get("IndexName"),
        )
    if op == "Scan":
        table = _table_name(p["TableName"])
        return _ddb_request(call, world, "dynamodb:Scan", table, attributes=_projection(p), index=p.get("IndexName"))
    if op == "DescribeTable":
        return _ddb_request(call, world, "dynamodb:DescribeTable", _table_name(p["TableName"]))
    if op == "BatchGetItem":
        requests: list[ActionRequest] = []
        for ref, spec in p["RequestItems"].items():
            table = _table_name(ref)
            keys = [_key_value(world, table, key) for key in spec["Keys"]]
            requests += _ddb_request(
                call, world, "dynamodb:BatchGetItem", table, leading_keys=keys, attributes=_projection(spec)
            )
        return requests
    if op == "BatchWriteItem":
        requests = []
        for ref, writes in p["RequestItems"].items():
            table = _table_name(ref)
            keys = [
                _key_value(
                    world,
                    table,
                    write["PutRequest"]["Item"] if "PutRequest" in write else write["DeleteRequest"]["Key"],
                )
                for write in writes
            ]
            requests += _ddb_request(call, world, "dynamodb:BatchWriteItem", table, leading_keys=keys)
        return requests
    if op in ("TransactWriteItems", "TransactGetItems"):
        return _transact(call, world)
    raise unmapped(call)


_TRANSACT_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Get": "dynamodb:GetItem",
}


def _transact(call: Call, world: World) -> list[ActionRequest]:
    """A transaction is authorized per item action; one request per (action, table) with all its keys."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for entry in call.params["TransactItems"]:
        ((kind, spec),) = entry.items()
        table = _table_name(spec["TableName"])
        key = spec["Item"] if kind == "Put" else spec["Key"]
        grouped.setdefault((_TRANSACT_ACTIONS[kind], table), []).append(_key_value(world, table, key))
    requests: list[ActionRequest] = []
    for (action, table), keys in grouped.items():
        requests += _ddb_request(call, world, action, table, leading_keys=keys)
    return requests


MAPPERS: dict[str, tuple[Mapper, frozenset[str]]] = {
    "dynamodb": (
        map_dynamodb,
        frozenset(
            {
                "GetItem",
                "PutItem",
                "UpdateItem",
                "DeleteItem",
                "Query",
                "Scan",
                "BatchGetItem",
                "BatchWriteItem",
                "TransactWriteItems",
                "TransactGetItems",
                "DescribeTable",
            }
        ),
    ),
}
