"""A tiny two-stack CDK app used only by ``tests/unit/test_offline_runner.py``.

It exercises what the offline runner must handle in the real app: a stateful
stack exporting a KMS-encrypted bucket (with the auto-delete custom resource),
a stateless stack importing it through ``Fn::ImportValue``, Python functions
from asset folders, an EventBridge pattern rule with an input transformer, a
scheduled rule and a state machine with Retry, Catch, a waitForTaskToken task,
a Wait with ``SecondsPath``, an SNS publish and a Fail with ``ErrorPath``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

LAMBDA_DIR = Path(__file__).parent / "lambda"

DATA_STACK = "FixtureData"
PIPELINE_STACK = "FixturePipeline"
EVENT_SOURCE = "fixture.jobs"


class DataStack(cdk.Stack):
    def __init__(self, scope: Construct, id_: str, **kwargs: Any) -> None:
        super().__init__(scope, id_, **kwargs)
        self.key = kms.Key(self, "Key", removal_policy=cdk.RemovalPolicy.DESTROY)
        self.bucket = s3.Bucket(
            self,
            "Reports",
            encryption_key=self.key,
            versioned=True,
            removal_policy=cdk.RemovalPolicy.DESTROY,
            auto_delete_objects=True,
        )


class PipelineStack(cdk.Stack):
    def __init__(self, scope: Construct, id_: str, *, data: DataStack, **kwargs: Any) -> None:
        super().__init__(scope, id_, **kwargs)
        table = dynamodb.Table(
            self,
            "Tokens",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute="expires_at",
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        topic = sns.Topic(self, "Notifications")
        cdk.CfnOutput(self, "TokensTableName", value=table.table_name)
        environment = {
            "BUCKET_NAME": data.bucket.bucket_name,
            "KEY_ARN": data.key.key_arn,
            "TABLE_NAME": table.table_name,
            "TOPIC_ARN": topic.topic_arn,
            "GREETING": "hello",
        }

        def function(id_: str, folder: str) -> lambda_.Function:
            fn = lambda_.Function(
                self,
                id_,
                runtime=lambda_.Runtime.PYTHON_3_12,
                handler="handler.handler",
                code=lambda_.Code.from_asset(str(LAMBDA_DIR / folder)),
                timeout=cdk.Duration.seconds(30),
                environment=environment,
            )
            table.grant_read_write_data(fn)
            return fn

        work_fn = function("WorkFunction", "work")
        register_fn = function("RegisterFunction", "register")
        on_event_fn = function("OnEventFunction", "on_event")
        data.bucket.grant_put(work_fn)

        failed = sfn.Fail(self, "Failed", error_path="$.error.Error", cause_path="$.error.Cause")
        prepare = sfn.Pass(
            self,
            "Prepare",
            parameters={
                "request_id.$": "$.request_id",
                "config.$": "$",
                "label.$": "States.Format('request {}', $.request_id)",
            },
        )
        work = tasks.LambdaInvoke(
            self,
            "DoWork",
            lambda_function=work_fn,
            payload=sfn.TaskInput.from_object(
                {"request_id.$": "$.request_id", "flaky_times.$": "$.config.flaky_times", "fatal.$": "$.config.fatal"}
            ),
            result_selector={"written.$": "$.Payload.written", "environment.$": "$.Payload.environment"},
            result_path="$.work",
            retry_on_service_exceptions=False,
        )
        work.add_retry(errors=["Flaky"], interval=cdk.Duration.seconds(1), max_attempts=2, backoff_rate=1.0)
        work.add_catch(failed, errors=["Fatal"], result_path="$.error")
        register = tasks.LambdaInvoke(
            self,
            "Register",
            lambda_function=register_fn,
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            payload=sfn.TaskInput.from_object(
                {
                    "request_id": sfn.JsonPath.string_at("$.request_id"),
                    "token": sfn.JsonPath.task_token,
                    "resume_now": sfn.JsonPath.string_at("$.config.resume_now"),
                }
            ),
            task_timeout=sfn.Timeout.at("$.config.callback_timeout"),
            result_path="$.callback",
        )
        register.add_catch(failed, errors=["Rejected"], result_path="$.error")
        # moto fails a Fail state whose error starts with "States." (States.Runtime), so a timeout
        # gets a name of our own; States.Timeout also covers States.HeartbeatTimeout in AWS and moto.
        timed_out = sfn.Fail(self, "TimedOut", error="CallbackTimedOut", cause="no callback before the timeout")
        register.add_catch(timed_out, errors=["States.Timeout"], result_path="$.error")
        pause = sfn.Wait(self, "Pause", time=sfn.WaitTime.seconds_path("$.config.wait_seconds"))
        notify = tasks.SnsPublish(
            self,
            "Notify",
            topic=topic,
            message=sfn.TaskInput.from_json_path_at("$.label"),
            result_path=sfn.JsonPath.DISCARD,
        )
        done = sfn.Succeed(self, "Done", output_path="$.callback")
        definition = prepare.next(work).next(register).next(pause).next(notify).next(done)
        self.state_machine = sfn.StateMachine(
            self, "Workflow", definition_body=sfn.DefinitionBody.from_chainable(definition)
        )
        # The functions that resume a waiting task need SendTask* on the machine (the offline run checks it).
        # A policy of its own: the roles' default policies are part of the machine's definition dependencies.
        iam.Policy(
            self,
            "TaskResponse",
            roles=[role for role in (register_fn.role, on_event_fn.role) if role is not None],
            statements=[
                iam.PolicyStatement(
                    actions=["states:SendTaskSuccess", "states:SendTaskFailure"],
                    resources=[self.state_machine.state_machine_arn],
                )
            ],
        )

        # The job-state event resumes the waiting task; the schedule sweeps what is pending.
        events.Rule(
            self,
            "JobStateChange",
            event_pattern=events.EventPattern(source=[EVENT_SOURCE], detail_type=["Job State Change"]),
            targets=[
                targets.LambdaFunction(
                    on_event_fn,
                    event=events.RuleTargetInput.from_object(
                        {
                            "kind": "event",
                            "request_id": events.EventField.from_path("$.detail.request_id"),
                            "outcome": events.EventField.from_path("$.detail.outcome"),
                        }
                    ),
                )
            ],
        )
        events.Rule(
            self,
            "Sweep",
            schedule=events.Schedule.rate(cdk.Duration.minutes(5)),
            targets=[targets.LambdaFunction(on_event_fn, event=events.RuleTargetInput.from_object({"kind": "sweep"}))],
        )


# What the CDK CLI sets for every `cdk synth`: templates then carry aws:cdk:path and aws:asset:path.
CLI_CONTEXT = {"aws:cdk:enable-path-metadata": True, "aws:cdk:enable-asset-metadata": True}


def synth(outdir: Path | None = None) -> Path:
    """Synthesize both stacks into ``outdir`` (or where the CDK CLI says) and return the assembly folder."""
    app = cdk.App(outdir=str(outdir), context=CLI_CONTEXT) if outdir else cdk.App()
    data = DataStack(app, DATA_STACK)
    PipelineStack(app, PIPELINE_STACK, data=data)
    return Path(app.synth().directory)


if __name__ == "__main__":
    # `cdk synth --app "python tests/unit/offline_fixture/app.py" -o <dir>`
    synth()
