"""Reading a synthesized cloud assembly: stacks in deployment order, resources, paths and assets.

Everything here reads files that ``cdk synth`` wrote; nothing is hand-written.
Construct paths and asset folders come from the template's ``Metadata`` when the
CLI wrote it (``aws:cdk:path``, ``aws:asset:path``), and otherwise from the
stack's metadata file and asset manifest, which an in-process ``App.synth()``
also writes. That keeps the runner independent of how the assembly was made.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

__all__ = ["AssemblyError", "ResourceSpec", "StackSpec", "load_stacks", "references"]


class AssemblyError(ValueError):
    """The assembly or one of its templates cannot be run offline; the message names the place."""


@dataclass(frozen=True)
class ResourceSpec:
    """One resource of a template, with what the runner needs besides its properties."""

    stack: str
    logical_id: str
    type: str
    properties: Mapping[str, Any]
    depends_on: tuple[str, ...]
    condition: str | None
    path: str | None  # construct path without the leading slash, e.g. "Pipeline/Work/Resource"
    asset_dir: Path | None  # code of a Lambda function or layer, when it is a local asset
    stack_path: str = ""  # construct path of the stack, e.g. "Pipeline" or "Stage/Pipeline"

    @property
    def where(self) -> str:
        """How error messages name this resource."""
        return f"{self.stack}/{self.logical_id} ({self.type})"

    @property
    def relative_path(self) -> str | None:
        """The construct path relative to the stack, e.g. "Work/Resource"."""
        if self.path and self.stack_path and self.path.startswith(self.stack_path + "/"):
            return self.path[len(self.stack_path) + 1 :]
        return self.path

    @property
    def friendly_name(self) -> str:
        """The construct path relative to the stack without a trailing ``/Resource``; else the logical id."""
        relative = self.relative_path
        return relative.removesuffix("/Resource") if relative else self.logical_id

    def answers_to(self, key: str) -> bool:
        """Whether ``key`` names this resource: logical id, or construct path (absolute or relative)."""
        if key == self.logical_id:
            return True
        key = key.strip("/")
        paths = {self.path, self.relative_path} - {None}
        return any(key in (path, path.removesuffix("/Resource")) for path in paths if path)


@dataclass
class StackSpec:
    """One ``aws:cloudformation:stack`` artifact of the assembly."""

    name: str  # the CloudFormation stack name
    artifact_id: str
    display_name: str
    directory: Path
    template: dict[str, Any]
    dependencies: list[str] = field(default_factory=list)  # artifact ids of other stacks
    resources: dict[str, ResourceSpec] = field(default_factory=dict)
    # The role CloudFormation deploys the stack with (the manifest's cloudFormationExecutionRoleArn, with
    # ${AWS::AccountId}-style placeholders); None when the manifest names none.
    execution_role: str | None = None

    def matches(self, key: str) -> bool:
        return key in (self.name, self.artifact_id, self.display_name)

    def ordered_resources(self) -> list[ResourceSpec]:
        """Resources in an order where each comes after everything it references or depends on."""
        graph: dict[str, set[str]] = {}
        for logical_id, spec in self.resources.items():
            deps = set(spec.depends_on) | references(self.template["Resources"][logical_id])
            graph[logical_id] = {dep for dep in deps if dep in self.resources and dep != logical_id}
        try:
            # Stable order: template order among resources that are ready together.
            sorter = TopologicalSorter(graph)
            sorter.prepare()
            position = {logical_id: index for index, logical_id in enumerate(self.resources)}
            ordered: list[str] = []
            while sorter.is_active():
                ready = sorted(sorter.get_ready(), key=position.__getitem__)
                ordered.extend(ready)
                sorter.done(*ready)
        except CycleError as exc:
            raise AssemblyError(f"stack {self.name}: circular references between {exc.args[1]}") from exc
        return [self.resources[logical_id] for logical_id in ordered]


def references(node: Any) -> set[str]:
    """Logical ids (and parameter names) that a piece of template references."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, arg),) = value.items()
                if key == "Ref" and isinstance(arg, str) and not arg.startswith("AWS::"):
                    found.add(arg)
                elif key == "Fn::GetAtt":
                    target = arg[0] if isinstance(arg, list) and arg else arg
                    if isinstance(target, str):
                        found.add(target.split(".", 1)[0])
                elif key == "Fn::Sub":
                    text = arg[0] if isinstance(arg, list) else arg
                    if isinstance(text, str):
                        found.update(_sub_references(text))
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(node)
    return found


def _sub_references(text: str) -> set[str]:
    names: set[str] = set()
    start = text.find("${")
    while start != -1:
        end = text.find("}", start)
        if end == -1:
            break
        name = text[start + 2 : end]
        if not name.startswith("!") and not name.startswith("AWS::"):
            names.add(name.split(".", 1)[0])
        start = text.find("${", end)
    return names


def load_stacks(directory: Path) -> list[StackSpec]:
    """Every stack of the assembly (and of nested assemblies, e.g. stages), dependencies first."""
    directory = directory.resolve()
    if not (directory / "manifest.json").is_file():
        raise AssemblyError(f"{directory} is not a cloud assembly: it has no manifest.json (run `cdk synth`)")
    stacks = list(_stacks_of(directory))
    by_id = {stack.artifact_id: stack for stack in stacks}
    graph = {stack.artifact_id: {dep for dep in stack.dependencies if dep in by_id} for stack in stacks}
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise AssemblyError(f"circular dependencies between stacks {exc.args[1]}") from exc
    return [by_id[artifact_id] for artifact_id in order]


def _stacks_of(directory: Path) -> Iterator[StackSpec]:
    manifest = json.loads((directory / "manifest.json").read_text())
    artifacts: dict[str, Any] = manifest.get("artifacts", {})
    asset_dirs = _asset_dirs(directory, artifacts)
    for artifact_id, artifact in artifacts.items():
        kind = artifact.get("type")
        properties = artifact.get("properties", {})
        if kind == "cdk:cloud-assembly":
            yield from _stacks_of(directory / properties["directoryName"])
        elif kind == "aws:cloudformation:stack":
            template = json.loads((directory / properties["templateFile"]).read_text())
            stack = StackSpec(
                name=properties.get("stackName") or artifact_id,
                artifact_id=artifact_id,
                display_name=artifact.get("displayName", artifact_id),
                directory=directory,
                template=template,
                dependencies=list(artifact.get("dependencies", [])),
                execution_role=properties.get("cloudFormationExecutionRoleArn"),
            )
            paths = _construct_paths(directory, artifact)
            for logical_id, resource in template.get("Resources", {}).items():
                stack.resources[logical_id] = _resource_spec(stack, logical_id, resource, paths, asset_dirs)
            yield stack


def _resource_spec(
    stack: StackSpec,
    logical_id: str,
    resource: Mapping[str, Any],
    paths: Mapping[str, str],
    asset_dirs: Mapping[str, Path],
) -> ResourceSpec:
    metadata: Mapping[str, Any] = resource.get("Metadata", {})
    properties: Mapping[str, Any] = resource.get("Properties", {})
    depends_on = resource.get("DependsOn", [])
    path = metadata.get("aws:cdk:path") or paths.get(logical_id)
    asset_dir: Path | None = None
    if isinstance(metadata.get("aws:asset:path"), str):
        asset_dir = stack.directory / metadata["aws:asset:path"]  # absolute paths stay absolute
    else:
        # Without asset metadata, the S3 key of the code names the asset in the asset manifest.
        code = properties.get("Code") or properties.get("Content")
        if isinstance(code, Mapping) and isinstance(code.get("S3Key"), str):
            asset_dir = asset_dirs.get(code["S3Key"])
    return ResourceSpec(
        stack=stack.name,
        logical_id=logical_id,
        type=resource["Type"],
        properties=properties,
        depends_on=tuple([depends_on] if isinstance(depends_on, str) else depends_on),
        condition=resource.get("Condition"),
        path=path.lstrip("/") if isinstance(path, str) else None,
        asset_dir=asset_dir,
        stack_path=stack.display_name,
    )


def _construct_paths(directory: Path, artifact: Mapping[str, Any]) -> dict[str, str]:
    """Logical id -> construct path, from the artifact's metadata (inline or in its metadata file)."""
    metadata: dict[str, Any] = dict(artifact.get("metadata") or {})
    extra = artifact.get("additionalMetadataFile")
    if extra and (directory / extra).is_file():
        metadata.update(json.loads((directory / extra).read_text()))
    paths: dict[str, str] = {}
    for path, entries in metadata.items():
        for entry in entries:
            if entry.get("type") == "aws:cdk:logicalId" and isinstance(entry.get("data"), str):
                paths[entry["data"]] = path.lstrip("/")
    return paths


def _asset_dirs(directory: Path, artifacts: Mapping[str, Any]) -> dict[str, Path]:
    """S3 object key of each zip asset -> its folder in the assembly."""
    found: dict[str, Path] = {}
    for artifact in artifacts.values():
        if artifact.get("type") != "cdk:asset-manifest":
            continue
        manifest = json.loads((directory / artifact["properties"]["file"]).read_text())
        for asset in manifest.get("files", {}).values():
            source = asset.get("source", {})
            if source.get("packaging") != "zip" or "path" not in source:
                continue
            for destination in asset.get("destinations", {}).values():
                found[destination["objectKey"]] = directory / source["path"]
    return found
