"""One small factory for the pipeline's Lambda functions, so every function is built the same way."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, Duration, ILocalBundling, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.nag import acknowledge

ROOT = Path(__file__).resolve().parents[2]
LAMBDA_DIR = ROOT / "lambda"
PACKAGE_DIR = ROOT / "src" / "bft"
# What the functions import from the shared package: never the CLI, the offline runner or pydantic config.
LAYER_EXCLUDES = ("__pycache__", "*.pyc", "cli", "config", "synth.py")
RUNTIME = lambda_.Runtime.PYTHON_3_13
POWERTOOLS_LAYER = "arn:aws:lambda:{region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:{version}"
# The AWS SDK the functions run, pinned in the layer: Lambda puts /opt/python before the runtime's own boto3, so
# the deployed functions run these versions, the ones requirements.lock installs here (boto3's dependency closure).
LAYER_SDK = ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3")
# Synth copies each SDK version once into this cache, then hard-links it into every layer asset it builds.
SDK_CACHE = ROOT / "cdk.out" / ".layer-sdk"
# The compiled packages the layer ships (orjson: full-rule validation runs 2.7x as fast with it, as
# benchmarks/validate_bench.py prints), as wheels for the functions' runtime and architecture -- CPython 3.13 on
# ARM_64, not this machine's -- pinned with their hashes in requirements-layer.lock and downloaded by
# `make setup`: synthesis itself never uses the network.
LAYER_LOCK = ROOT / "requirements-layer.lock"
LAYER_WHEELS = ROOT / ".layer-wheels"
LAYER_WHEEL_PYTHON = "cp313"  # RUNTIME
LAYER_WHEEL_ARCH = "aarch64"  # lambda_.Architecture.ARM_64


class LayerWheelError(Exception):
    """A wheel requirements-layer.lock pins is not in .layer-wheels/, not the pinned file, or not the version
    the virtualenv runs. Synthesis stops: a layer without it would deploy functions that quietly run slower."""


@dataclass(frozen=True)
class LayerWheel:
    name: str
    version: str
    path: Path
    sha256: str


def locked_layer_wheels(lock: Path = LAYER_LOCK) -> dict[str, tuple[str, frozenset[str]]]:
    """requirements-layer.lock as {name: (version, sha256 hashes)}."""
    text = lock.read_text().replace("\\\n", " ")
    found: dict[str, tuple[str, frozenset[str]]] = {}
    for line in text.splitlines():
        match = re.match(r"^([A-Za-z0-9._-]+)==(\S+)((?:\s+--hash=sha256:[0-9a-f]{64})+)", line)
        if match:
            found[match[1].lower()] = (match[2], frozenset(re.findall(r"sha256:([0-9a-f]{64})", match[3])))
    if not found:
        raise ValueError(f"{lock.name} pins no package with --hash=sha256:...")
    return found


def _fits_the_functions(wheel: Path) -> bool:
    """A wheel CPython 3.13 on manylinux aarch64 loads: its tags name cp313 (or abi3) and aarch64."""
    *_, pythons, abis, platforms = wheel.stem.split("-")
    return (
        LAYER_WHEEL_PYTHON in pythons.split(".")
        and bool({LAYER_WHEEL_PYTHON, "abi3"} & set(abis.split(".")))
        and any(tag.startswith("manylinux") and tag.endswith("_" + LAYER_WHEEL_ARCH) for tag in platforms.split("."))
    )


def layer_wheels(folder: Path | None = None, lock: Path | None = None) -> list[LayerWheel]:
    """The pinned wheels (``lock``, default LAYER_LOCK), each found in ``folder`` (default LAYER_WHEELS) and
    checked against its lock hash, and each the version this virtualenv runs (requirements.lock's: the offline
    run uses the installed copy). LayerWheelError says what is wrong and what to run."""
    folder = LAYER_WHEELS if folder is None else folder
    lock = LAYER_LOCK if lock is None else lock
    wheels = []
    for name, (version, hashes) in sorted(locked_layer_wheels(lock).items()):
        what = f"{name} {version} for the functions' runtime (CPython 3.13, manylinux {LAYER_WHEEL_ARCH})"
        stem = re.sub(r"[-_.]+", "_", name)
        candidates = [path for path in sorted(folder.glob(f"{stem}-{version}-*.whl")) if _fits_the_functions(path)]
        if not candidates:
            raise LayerWheelError(
                f"the functions' layer ships {what} and {folder} has no such wheel: run `make setup`, which "
                f"downloads the wheels {lock.name} pins (synthesis works offline and will not ship the layer "
                "without them)"
            )
        path = candidates[0]
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest not in hashes:
            raise LayerWheelError(
                f"{path} is not the file {lock.name} pins for {what} (sha256 {digest}): delete it and run `make setup`"
            )
        installed = metadata.version(name)
        if installed != version:
            raise LayerWheelError(
                f"{lock.name} pins {name} {version}, this virtualenv runs {installed} (requirements.lock): the "
                "functions and the CLI must run one version, so pin the same in both and run `make setup`"
            )
        wheels.append(LayerWheel(name, version, path, digest))
    return wheels


def bundle_layer(python: Path, wheels: Sequence[LayerWheel]) -> None:
    """The layer's ``python/`` folder: the shared package, the SDK as installed here and the wheels unpacked."""
    shutil.copytree(PACKAGE_DIR, python / "bft", ignore=shutil.ignore_patterns(*LAYER_EXCLUDES))
    shutil.copytree(_sdk_cache(), python, copy_function=_link_or_copy, dirs_exist_ok=True)
    for wheel in wheels:
        _unpack(wheel.path, python)


def _unpack(wheel: Path, python: Path) -> None:
    """Install a wheel's files as pip would into site-packages (a wheel with a .data folder is refused)."""
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.infolist():
            parts = PurePosixPath(member.filename).parts
            if member.filename.startswith("/") or ".." in parts or parts[0].endswith(".data"):
                raise ValueError(f"{wheel.name}: {member.filename} cannot be installed by unpacking")
        archive.extractall(python)


@jsii.implements(ILocalBundling)
class _CopyPackage:
    """Builds the layer layout without Docker or network: python/bft (the shared package), the SDK's
    distributions as installed in this virtualenv (python/boto3, python/boto3-<version>.dist-info, ...) and
    the pinned wheels for the functions' architecture, unpacked (python/orjson, python/orjson-<v>.dist-info)."""

    def __init__(self, wheels: Sequence[LayerWheel]) -> None:
        self._wheels = tuple(wheels)

    def try_bundle(self, output_dir: str, options: Any) -> bool:
        bundle_layer(Path(output_dir) / "python", self._wheels)
        return True


def sdk_versions() -> dict[str, str]:
    """The installed version of each distribution the layer pins."""
    return {name: metadata.version(name) for name in LAYER_SDK}


def layer_asset_hash(wheels: Sequence[LayerWheel] = ()) -> str:
    """What the layer's content depends on: the package's shipped files, the SDK versions and the wheels'
    digests. Cheaper than hashing the output (the SDK is 2,000 files) and, unlike the source folder's hash, it
    sees an SDK upgrade or another wheel."""
    digest = hashlib.sha256(repr(sorted(sdk_versions().items())).encode())
    for wheel in wheels:
        digest.update(f"{wheel.path.name}\0{wheel.sha256}\0".encode())
    ignore = shutil.ignore_patterns(*LAYER_EXCLUDES)
    for folder, dirs, files in os.walk(PACKAGE_DIR):
        dirs[:] = sorted(set(dirs) - ignore(folder, dirs))
        for name in sorted(set(files) - ignore(folder, files)):
            path = Path(folder, name)
            digest.update(str(path.relative_to(PACKAGE_DIR)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _sdk_cache() -> Path:
    """A folder holding the SDK's installed files (``python/`` layout), built once per set of versions."""
    key = hashlib.sha256(repr(sorted(sdk_versions().items())).encode()).hexdigest()[:16]
    target = SDK_CACHE / key
    if target.is_dir():
        return target
    SDK_CACHE.mkdir(parents=True, exist_ok=True)
    building = SDK_CACHE / f".{key}.{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    for name in LAYER_SDK:
        distribution = metadata.distribution(name)
        for file in distribution.files or []:
            parts = Path(str(file)).parts
            if parts[0] == ".." or "__pycache__" in parts or file.suffix == ".pyc":
                continue  # console scripts outside site-packages; bytecode of this interpreter
            destination = building.joinpath(*parts)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(Path(str(distribution.locate_file(file))), destination)
    try:
        building.rename(target)
    except OSError:  # another synth (a parallel test worker) built it first
        shutil.rmtree(building, ignore_errors=True)
    return target


def _link_or_copy(source: str, destination: str) -> str:
    """Hard links from the cache (not the virtualenv: an edited asset must not change the installed SDK)."""
    try:
        os.link(source, destination)
    except OSError:  # another file system
        shutil.copy2(source, destination)
    return destination


class FunctionFactory(Construct):
    """Builds functions from ``lambda/<name>/handler.py`` with the shared package as a layer.

    Each function gets its own role (only what it is granted), its own log group with the environment's
    retention, X-Ray tracing, and arm64 (cheaper per GB-second for this I/O-bound work).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        log_retention: logs.RetentionDays,
        removal: RemovalPolicy,
        powertools_layer_version: int,
    ) -> None:
        super().__init__(scope, id_)
        self._log_retention = log_retention
        self._removal = removal
        self.functions: dict[str, lambda_.Function] = {}
        wheels = layer_wheels()  # LayerWheelError before anything is built: the fix is `make setup`
        self.package_layer = lambda_.LayerVersion(
            self,
            "PackageLayer",
            description="bft shared domain package (dataset rules, workflow steps), the AWS SDK it runs, orjson",
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[lambda_.Architecture.ARM_64],
            code=lambda_.Code.from_asset(
                str(PACKAGE_DIR),
                asset_hash_type=AssetHashType.CUSTOM,
                asset_hash=layer_asset_hash(wheels),
                bundling=BundlingOptions(
                    image=DockerImage.from_registry("unused-local-bundling"),
                    local=_CopyPackage(wheels),  # type: ignore[arg-type]  # jsii.implements makes it an ILocalBundling
                ),
            ),
        )
        region = Stack.of(self).region
        self.powertools_layer = lambda_.LayerVersion.from_layer_version_arn(
            self, "Powertools", POWERTOOLS_LAYER.format(region=region, version=powertools_layer_version)
        )
        acknowledge(self, "L1", "Python 3.13 is the newest runtime with a published Powertools layer.")

    def function(
        self,
        name: str,
        *,
        description: str,
        environment: dict[str, str],
        timeout: Duration,
        memory_size: int = 256,
        asynchronous: bool = False,
    ) -> lambda_.Function:
        """One function of the pipeline. ``asynchronous``: invoked by EventBridge (events, schedules), so an
        event that fails every retry is kept in the dead-letter queue instead of being dropped."""
        role = iam.Role(
            self,
            f"{pascal(name)}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"bft {name} function",
        )
        log_group = logs.LogGroup(
            self, f"{pascal(name)}Logs", retention=self._log_retention, removal_policy=self._removal
        )
        fn = lambda_.Function(
            self,
            pascal(name),
            description=description,
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler="handler.handler",
            code=lambda_.Code.from_asset(str(LAMBDA_DIR / name), exclude=["__pycache__", "*.pyc"]),
            layers=[self.package_layer, self.powertools_layer],
            role=role,
            log_group=log_group,
            timeout=timeout,
            memory_size=memory_size,
            tracing=lambda_.Tracing.ACTIVE,
            environment={"POWERTOOLS_SERVICE_NAME": "bft", "POWERTOOLS_LOG_LEVEL": "INFO", **environment},
            dead_letter_queue=self._dead_letters() if asynchronous else None,
        )
        acknowledge(role, "IAM5[Resource::*]", "X-Ray PutTraceSegments/PutTelemetryRecords have no resource scope.")
        self.functions[name] = fn
        return fn

    @property
    def dead_letters(self) -> sqs.Queue | None:
        """The dead-letter queue of the asynchronously invoked functions, once one of them exists."""
        found = self.node.try_find_child("AsyncDeadLetters")
        return found if isinstance(found, sqs.Queue) else None

    def _dead_letters(self) -> sqs.IQueue:
        found = self.node.try_find_child("AsyncDeadLetters")
        if isinstance(found, sqs.Queue):
            return found
        queue = sqs.Queue(
            self,
            "AsyncDeadLetters",
            encryption=sqs.QueueEncryption.KMS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=self._removal,
        )
        acknowledge(
            queue, "SQS3", "This queue is itself the dead-letter queue of the asynchronously invoked functions."
        )
        return queue


def pascal(name: str) -> str:
    """validate_request -> ValidateRequest, moderation-ml -> ModerationMl (construct ids)."""
    return "".join(part.capitalize() for part in re.split(r"[-_]", name))
