"""lambda.Function: a zip-packaged function, its configuration, its code and tags.

The code comes from a folder of the repository (`code: {path: functions/x}`) or from
an S3 object (`code: {s3Bucket, s3Key}`). A folder is zipped here the same way every
time (sorted entries, fixed timestamps and modes, stored uncompressed: no zlib version
can change a byte), so the zip's SHA-256, base64, is what Lambda reports as
`CodeSha256`: an unchanged folder never shows as drift, and a changed one shows as
`code.sha256` (a `Digest`: plans show its first characters, never the files). Python
bytecode caches (`__pycache__/`, `*.pyc`) are left out: a local run leaves them in a
work tree, never in git, and they would make a local plan differ from the daemon's.
The driver never opens a file: `folders` names `code.path`, which the loader reads
through the stack's confined files (inside the repository, no symlink, sizes bounded)
and hands over in the spec as a `Folder` (a str, the path as written, carrying the
files). An S3 object has no hash Lambda could compare with: the driver remembers
which object it deployed, and the `CodeSha256` it got, in a `gitops:code` tag.

Reads: one ListFunctions listing per run (50 a page) for the configuration and the
stack's tags from the tagging index. ListFunctions leaves out State and
LastUpdateStatus, so a function changed in the last minutes (only then can AWS still
be working on it) and any function this run wrote are read with GetFunction.

Code and configuration are separate calls, each made only when its fields changed;
AWS refuses the second while the first is InProgress (ResourceConflictException): that
is reported as `StillUpdating`, which the next run retries. Never waited on here.
"""

from __future__ import annotations

import base64
import hashlib
import io
import posixpath
import zipfile
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import Field, model_validator

from controller.aws import errors
from controller.aws.errors import error_code
from controller.aws.tags import user_tags
from controller.model import (
    Declared,
    Desired,
    Digest,
    ExactMap,
    FieldError,
    Finding,
    Folder,
    NameRule,
    Observed,
    Readiness,
    SpecModel,
    Tags,
)
from controller.resources.base import Driver, RunContext
from controller.resources.batch import Listing
from controller.resources.common import Vanished, absent_ok, sync_tags
from controller.resources.shapes import RoleArn
from controller.resources.tagged import by_id, stack_arns

CODE_TAG = "gitops:code"  # which S3 object was deployed, and the CodeSha256 it gave
# AWS settles a create or update in seconds (minutes with a VPC): a function listed as
# changed longer ago than this is not Pending or InProgress any more.
SETTLING = timedelta(minutes=15)
# Fields written by UpdateFunctionConfiguration, and by UpdateFunctionCode.
_CONFIG = {"runtime": "Runtime", "handler": "Handler", "role": "Role",
           "description": "Description", "timeout": "Timeout", "memorySize": "MemorySize"}
_CODE_FIELDS = frozenset({"code", "architectures"})
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold: never "now"


class CodeSpec(SpecModel):
    """Where the zip comes from: a folder of the repository, or an S3 object."""

    path: str | None = Field(default=None, description="a folder of the repository, relative "
                             "to the folder of the YAML file that declares it")
    s3Bucket: str | None = None
    s3Key: str | None = None
    s3ObjectVersion: str | None = Field(default=None, description="pin it: a new object under "
                                        "the same key is not seen otherwise")

    @model_validator(mode="after")
    def _one_source(self) -> CodeSpec:
        s3 = self.s3Bucket is not None or self.s3Key is not None
        if (self.path is None) == (not s3):
            raise FieldError((), "give either `path` (a folder of the repository) or "
                             "`s3Bucket` with `s3Key`")
        if s3 and (self.s3Bucket is None or self.s3Key is None):
            raise FieldError(("s3Key" if self.s3Key is None else "s3Bucket",),
                             "an S3 source needs both s3Bucket and s3Key")
        if self.path is not None and (posixpath.isabs(self.path) or self.path.startswith("..")):
            raise FieldError(("path",), "a folder inside the repository, relative to this "
                             "file's folder (e.g. functions/jobs-worker)")
        return self


class EnvironmentSpec(SpecModel):
    variables: dict[str, str] = Field(default_factory=dict, description="every variable: one "
                                      "set by hand is drift. No secrets: they are read back")


class FunctionSpec(SpecModel):
    """The function is named by the resource's `name`; its package type is Zip."""

    code: CodeSpec
    runtime: str = Field(description="e.g. python3.12")
    handler: str = Field(description="module.function, e.g. handler.handler")
    role: RoleArn
    description: str | None = Field(default=None, max_length=256)
    timeout: int | None = Field(default=None, ge=1, le=900, description="seconds; AWS: 3")
    memorySize: int | None = Field(default=None, ge=128, le=10240, description="MB; AWS: 128")
    environment: EnvironmentSpec | None = None
    architectures: list[Literal["x86_64", "arm64"]] | None = Field(
        default=None, min_length=1, max_length=1, description="AWS: [x86_64]")
    tags: Tags | None = None


class StillUpdating(Exception):
    """AWS is still applying an earlier change to the function: what is left is written
    by the next run (AWS refuses it until then). Retryable, not a failure of the spec."""


def packaged(name: str) -> bool:
    """Whether a file of the folder goes into the zip: not a Python bytecode cache."""
    return not (name.endswith(".pyc") or "__pycache__" in name.split("/"))


def bundle(files: Mapping[str, bytes]) -> bytes:
    """The deterministic zip of `files`: same files, same bytes, on any machine."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in sorted(n for n in files if packaged(n)):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.create_system = 3  # unix, so the mode below is read
            info.external_attr = 0o100644 << 16  # a regular file, readable by the runtime
            archive.writestr(info, files[name])
    return out.getvalue()


def code_sha256(zipped: bytes) -> str:
    """What Lambda reports as CodeSha256: the base64 of the zip's SHA-256."""
    return base64.b64encode(hashlib.sha256(zipped).digest()).decode("ascii")


def folder_files(path: Any) -> Mapping[str, bytes] | None:
    """The files the loader read for a `code.path`, or None (a plain str: not read)."""
    return path.files if isinstance(path, Folder) else None


def _s3_tag(code: Mapping[str, Any], live_sha: str) -> str:
    """`gitops:code`'s value: a digest of the S3 source (its key may be 1024 long) and the
    CodeSha256 Lambda answered when the driver deployed it."""
    source = "\n".join(str(code.get(k) or "") for k in ("s3Bucket", "s3Key", "s3ObjectVersion"))
    return f"s3:{hashlib.sha256(source.encode()).hexdigest()[:32]}:{live_sha}"


class FunctionDriver(Driver):
    kind = "lambda.Function"
    name_rule = NameRule(r"[A-Za-z0-9_-]{1,64}", "1-64 letters, digits, hyphens and underscores")
    spec_model = FunctionSpec
    attributes = ("arn", "name")
    references = ("iam.Role", "sqs.Queue", "logs.LogGroup")
    folders = ("code.path",)

    def normalise(self, spec: dict[str, Any]) -> dict[str, Any]:
        out = dict(spec)
        code = dict(spec.get("code") or {})
        files = folder_files(code.get("path"))
        if files is not None:
            # the path stays a Folder: it shows as the path, and create still has the files
            code = {"path": code["path"], "sha256": Digest(code_sha256(bundle(files)))}
        out["code"] = code
        if isinstance(spec.get("environment"), dict):
            out["environment"] = {"variables": ExactMap(spec["environment"].get("variables")
                                                         or {})}
        return out

    def lint(self, doc: Declared, stack: Mapping[str, Declared]) -> list[Finding]:
        """A folder the loader did not read cannot be deployed; a Python handler's module
        must be in it (AWS accepts the zip and fails every invocation)."""
        path = (doc.spec.get("code") or {}).get("path")
        if path is None:
            return []
        files = folder_files(path)
        if files is None:
            return [Finding(("spec", "code", "path"), f"the files of {path!r} were not read by "
                            "the loader (`folders` names code.path)")]
        if not files:
            return [Finding(("spec", "code", "path"), f"{path!r} holds no file")]
        if not any(packaged(name) for name in files):
            return [Finding(("spec", "code", "path"), f"{path!r} holds only Python "
                            "bytecode caches, which are not packaged")]
        handler = str(doc.spec.get("handler", ""))
        module = handler.rpartition(".")[0].replace(".", "/") + ".py"
        if str(doc.spec.get("runtime", "")).startswith("python") and module not in files:
            return [Finding(("spec", "handler"), f"{module} is not in {path!r}: the handler "
                            f"{handler!r} would fail every invocation")]
        return []

    def plan_note(self, action: str, desired: Desired, live: Observed | None,
                  changed: list[str]) -> str | None:
        """Where new code comes from, with the zip's short hash: the fields show only the
        hash, which alone does not say which folder or object it is."""
        if "code" not in changed or action not in ("create", "update", "replace"):
            return None
        code = desired.spec.get("code") or {}
        if "path" in code:
            sha = code.get("sha256")
            short = f", sha256 {sha.short}" if isinstance(sha, Digest) else ""
            return f"new code from {code['path']}{short}"
        return f"new code from s3://{code.get('s3Bucket')}/{code.get('s3Key')}"

    def prefetch(self, desired: list[Desired], ctx: RunContext) -> None:
        FUNCTIONS.all(ctx)

    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        if not ctx.cached((FRESH, desired.name), lambda: False):
            item = FUNCTIONS.get(ctx, desired.name)
            if item is None:
                return None
            if "State" in item or not _recently_changed(item):
                tags = stack_arns(ctx, "lambda", "function:").get(item["FunctionArn"])
                return _observed(desired, item, tags)
        return self._get(desired, ctx)

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        # A retried create (the first one's answer lost) finds its own function.
        existing = self._get(desired, ctx)
        if existing is not None:
            return existing
        spec = desired.spec
        args: dict[str, Any] = {"FunctionName": desired.name, "PackageType": "Zip",
                                "Code": _code_args(desired, "ZipFile"), "Tags": desired.tags(),
                                **_config_args(spec, [*_CONFIG, "environment"])}
        if spec.get("architectures"):
            args["Architectures"] = spec["architectures"]
        answer = _retryable(desired, lambda: ctx.client("lambda").create_function(**args))
        _remember_s3(desired, answer, ctx)
        return self._fresh(desired, ctx)

    def update(
        self, desired: Desired, live: Observed, changed: list[str], ctx: RunContext
    ) -> Observed:
        client = ctx.client("lambda")
        config = [f for f in changed if f in _CONFIG or f == "environment"]
        code = [f for f in changed if f in _CODE_FIELDS]
        if (config or code) and live.attrs.get("lastUpdateStatus") == "InProgress":
            raise StillUpdating(f"{desired.id}: AWS is still applying its last update "
                                f"(LastUpdateStatus InProgress); {', '.join(config + code)} "
                                "will be written by the next run")
        if config:
            args = _config_args(desired.spec, config)
            _retryable(desired, lambda: client.update_function_configuration(
                FunctionName=desired.name, **args))
        if code:
            args = _code_args(desired, "ZipFile")
            if desired.spec.get("architectures"):
                args["Architectures"] = desired.spec["architectures"]
            answer = _retryable(desired, lambda: client.update_function_code(
                FunctionName=desired.name, **args), after=config)
            _remember_s3(desired, answer, ctx)
        if "tags" in changed:
            arn = live.attrs["arn"]
            sync_tags(desired, live.tags or {},
                      write=lambda tags: client.tag_resource(Resource=arn, Tags=tags),
                      remove=lambda keys: client.untag_resource(Resource=arn, TagKeys=keys))
        return self._fresh(desired, ctx)

    def delete(self, live: Observed, ctx: RunContext) -> None:
        absent_ok(ctx.client("lambda").delete_function, FunctionName=live.attrs["name"])
        FUNCTIONS.forget(ctx)

    def inventory(self, ctx: RunContext) -> dict[str, Observed]:
        """The tagging index names the stack's functions; the run's one ListFunctions
        confirms they still exist (the index may lag behind a delete)."""
        listed = {item["FunctionArn"]: item for item in FUNCTIONS.all(ctx).values()}
        found = (Observed(fields={}, attrs=_attrs(listed[arn]), tags=tags)
                 for arn, tags in stack_arns(ctx, "lambda", "function:").items()
                 if arn in listed)
        return by_id(found, ctx)

    def readiness(self, desired: Desired | None, live: Observed) -> Readiness:
        """State Pending (creating) or an update InProgress: progressing; Failed either
        way: failed, with AWS's reason. Inactive (idle for weeks) wakes on invocation."""
        state, update = live.attrs.get("state"), live.attrs.get("lastUpdateStatus")
        reason = live.attrs.get("reason") or ""
        if state == "Failed":
            return Readiness("failed", f"function Failed: {reason}".rstrip(": "))
        if update == "Failed":
            return Readiness("failed", f"last update Failed: {reason}".rstrip(": "))
        if state == "Pending":
            return Readiness("progressing", "function Pending")
        if update == "InProgress":
            return Readiness("progressing", "update InProgress")
        return Readiness()

    def live_tags(self, desired: Desired, live: Observed, ctx: RunContext) -> dict[str, str]:
        """A function outside the stack's tagging index (someone else's of the same name)."""
        if live.tags is not None:
            return live.tags
        return dict(ctx.client("lambda").list_tags(Resource=live.attrs["arn"])["Tags"])

    def _get(self, desired: Desired, ctx: RunContext) -> Observed | None:
        """GetFunction: configuration with State and LastUpdateStatus, and every tag. What
        this run writes is read so from then on (the listing and the index are stale)."""
        with ctx.lock:
            ctx.cache[(FRESH, desired.name)] = True
        FUNCTIONS.forget(ctx)
        answer = absent_ok(ctx.client("lambda").get_function, FunctionName=desired.name)
        if answer is None:
            return None
        return _observed(desired, answer["Configuration"], dict(answer.get("Tags") or {}))

    def _fresh(self, desired: Desired, ctx: RunContext) -> Observed:
        live = self._get(desired, ctx)
        if live is None:
            raise Vanished(f"{desired.id} cannot be read back right after it was written")
        return live


FRESH = "lambda.function.fresh"


def _list(ctx: RunContext, scope: str) -> dict[str, dict[str, Any]]:
    pages = ctx.client("lambda").get_paginator("list_functions").paginate()
    return {f["FunctionName"]: f for page in pages for f in page["Functions"]}


FUNCTIONS: Listing[dict[str, Any]] = Listing("lambda.functions", _list)


def _recently_changed(item: dict[str, Any]) -> bool:
    """LastModified is `2024-05-01T10:00:00.000+0000`: AWS may still be working on it."""
    try:
        when = datetime.strptime(str(item.get("LastModified", ""))[:19], "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return True
    return datetime.now(UTC) - when.replace(tzinfo=UTC) < SETTLING


def _attrs(item: dict[str, Any]) -> dict[str, Any]:
    return {"arn": item["FunctionArn"], "name": item["FunctionName"],
            "state": item.get("State"), "lastUpdateStatus": item.get("LastUpdateStatus"),
            "reason": item.get("LastUpdateStatusReason") or item.get("StateReason")}


def _observed(desired: Desired, item: dict[str, Any], tags: dict[str, str] | None) -> Observed:
    fields: dict[str, Any] = {
        "code": _live_code(desired.spec.get("code") or {}, item["CodeSha256"], tags or {}),
        "runtime": item.get("Runtime"), "handler": item.get("Handler"), "role": item.get("Role"),
        "description": item.get("Description", ""), "timeout": item.get("Timeout", 3),
        "memorySize": item.get("MemorySize", 128),
        "environment": {"variables": dict((item.get("Environment") or {}).get("Variables")
                                          or {})},
        "architectures": item.get("Architectures") or ["x86_64"],
    }
    if "tags" in desired.spec and tags is not None:
        fields["tags"] = user_tags(tags)
    return Observed(fields=fields, attrs=_attrs(item), tags=tags)


def _live_code(want: Mapping[str, Any], live_sha: str, tags: dict[str, str]) -> dict[str, Any]:
    """The code in the spec's terms. A folder: its path and Lambda's CodeSha256. An S3
    object: the spec's own source when the `gitops:code` tag says the driver deployed it
    and the code has not changed since; else what is known, the CodeSha256."""
    if "path" in want:
        return {"path": want["path"], "sha256": Digest(live_sha)}
    if tags.get(CODE_TAG) == _s3_tag(want, live_sha):
        return dict(want)
    return {"sha256": Digest(live_sha)}


def _code_args(desired: Desired, zip_key: str) -> dict[str, Any]:
    """CreateFunction's `Code` / UpdateFunctionCode's arguments, from the spec's source."""
    code = desired.spec["code"]
    if "path" in code:
        files = folder_files(code["path"])
        if files is None:
            raise ValueError(f"{desired.id}: the files of {code['path']!r} were not read by "
                             "the loader: nothing to deploy")
        return {zip_key: bundle(files)}
    names = {"s3Bucket": "S3Bucket", "s3Key": "S3Key", "s3ObjectVersion": "S3ObjectVersion"}
    return {aws: code[field] for field, aws in names.items() if code.get(field)}


def _config_args(spec: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    args = {_CONFIG[f]: spec[f] for f in fields if f in _CONFIG and spec.get(f) is not None}
    if "environment" in fields and spec.get("environment") is not None:
        args["Environment"] = {"Variables": dict(spec["environment"].get("variables") or {})}
    return args


def _remember_s3(desired: Desired, answer: dict[str, Any], ctx: RunContext) -> None:
    """After deploying an S3 object: which one, and the CodeSha256 it gave (see CODE_TAG)."""
    code = desired.spec["code"]
    if "path" not in code:
        ctx.client("lambda").tag_resource(
            Resource=answer["FunctionArn"], Tags={CODE_TAG: _s3_tag(code, answer["CodeSha256"])})


def _retryable(desired: Desired, call: Callable[[], Any], after: list[str] | None = None) -> Any:
    """`call()`; AWS's "busy with the previous change" and "role not assumable yet" (a new
    role takes seconds to reach Lambda) become StillUpdating: the next run retries."""
    try:
        return call()
    except errors.ClientError as err:
        message = str(err.response.get("Error", {}).get("Message", ""))
        if error_code(err) == "ResourceConflictException":
            done = f" ({', '.join(after)} written)" if after else ""
            raise StillUpdating(f"{desired.id}: AWS is still applying the previous change"
                                f"{done}; the rest is written by the next run") from err
        if error_code(err) == "InvalidParameterValueException" and "assumed" in message:
            raise StillUpdating(f"{desired.id}: Lambda cannot assume its role yet (a new role "
                                "takes seconds to propagate); the next run retries") from err
        raise
