"""Every state machine definition of every environment is valid Amazon States Language.

The DefinitionString is an ``Fn::Join`` whose parts include ``Ref``/``Fn::GetAtt`` tokens. Each is
replaced with a plausible value for its resource type (a Lambda function ARN for a function's
``Arn``, and so on), and the resulting JSON goes to asl-validator (npm, pinned in package.json)
through ``asl_validate.js``. A token with no placeholder fails the test rather than being guessed.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

from bft.synth import ROOT
from tests.conftest import Assembly, resources

NODE = ROOT / "node_modules" / ".bin" / "node"
SCRIPT = ROOT / "tests" / "infra" / "asl_validate.js"

PARTITION, REGION, ACCOUNT = "aws", "us-east-1", "123456789012"
PSEUDO = {
    "AWS::Partition": PARTITION,
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "Stack",
}


def _arn(service: str, rest: str, *, regional: bool = True) -> str:
    return f"arn:{PARTITION}:{service}:{REGION if regional else ''}:{ACCOUNT if regional else ''}:{rest}"


# (type, attribute or "Ref") -> the value CloudFormation would put there, for a resource named `n`.
PLACEHOLDERS = {
    ("AWS::Lambda::Function", "Arn"): lambda n: _arn("lambda", f"function:{n}"),
    ("AWS::Lambda::Function", "Ref"): lambda n: n,
    ("AWS::Lambda::Alias", "Ref"): lambda n: _arn("lambda", f"function:{n}:live"),
    ("AWS::IAM::Role", "Arn"): lambda n: f"arn:{PARTITION}:iam::{ACCOUNT}:role/{n}",
    ("AWS::IAM::Role", "Ref"): lambda n: n,
    ("AWS::SNS::Topic", "Ref"): lambda n: _arn("sns", n),
    ("AWS::SNS::Topic", "TopicArn"): lambda n: _arn("sns", n),
    ("AWS::SQS::Queue", "Arn"): lambda n: _arn("sqs", n),
    ("AWS::SQS::Queue", "Ref"): lambda n: f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{n}",
    ("AWS::DynamoDB::Table", "Ref"): lambda n: n,
    ("AWS::DynamoDB::Table", "Arn"): lambda n: _arn("dynamodb", f"table/{n}"),
    ("AWS::S3::Bucket", "Ref"): lambda n: n.lower(),
    ("AWS::S3::Bucket", "Arn"): lambda n: f"arn:{PARTITION}:s3:::{n.lower()}",
    ("AWS::SSM::Parameter", "Ref"): lambda n: f"/bft/{n}",
    ("AWS::KMS::Key", "Arn"): lambda n: _arn("kms", "key/00000000-0000-0000-0000-000000000000"),
    ("AWS::StepFunctions::StateMachine", "Ref"): lambda n: _arn("states", f"stateMachine:{n}"),
    ("AWS::StepFunctions::Activity", "Ref"): lambda n: _arn("states", f"activity:{n}"),
    ("AWS::Events::EventBus", "Arn"): lambda n: _arn("events", f"event-bus/{n}"),
}


def _resolve(token: Any, template: dict[str, Any]) -> str:
    (function, arg), *rest = token.items()
    assert not rest, f"unexpected token {token}"
    if function == "Ref" and arg in PSEUDO:
        return PSEUDO[arg]
    if function == "Ref" and arg in template.get("Parameters", {}):
        # A team stack's definition names the shared functions by the registry parameters it reads at deploy
        # time (bft.registry): a function ARN.
        return _arn("lambda", f"function:{arg[:60]}")
    if function in ("Ref", "Fn::GetAtt"):
        name, attribute = (arg, "Ref") if function == "Ref" else arg
        type_ = template["Resources"][name]["Type"]
        make = PLACEHOLDERS.get((type_, attribute))
        assert make, f"no placeholder for {function} {arg} ({type_}): add one to PLACEHOLDERS"
        return make(name)
    raise AssertionError(f"cannot resolve {token} in a state machine definition")


def state_machines(assembly: Assembly) -> dict[str, dict[str, Any]]:
    found = {}
    for stack, template in assembly.templates().items():
        for logical_id, machine in resources(template, "AWS::StepFunctions::StateMachine").items():
            definition = machine["Properties"]["DefinitionString"]
            if isinstance(definition, dict):
                separator, parts = definition["Fn::Join"]
                definition = separator.join(p if isinstance(p, str) else _resolve(p, template) for p in parts)
            found[f"{stack}/{logical_id}"] = json.loads(definition)
    return found


def test_every_state_machine_is_valid_asl(assembly: Assembly) -> None:
    machines = state_machines(assembly)
    assert machines, f"no state machine in {assembly.env}"
    result = subprocess.run(
        [str(NODE), str(SCRIPT)],
        input=json.dumps(machines),
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, f"asl_validate.js exited {result.returncode}:\n{result.stderr[-3000:]}"
    verdicts = json.loads(result.stdout)
    assert set(verdicts) == set(machines)
    invalid = {name: v["errors"] for name, v in verdicts.items() if not v["valid"]}
    assert not invalid, f"invalid state machines in {assembly.env}:\n{json.dumps(invalid, indent=1)}"
