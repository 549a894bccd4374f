"""Container definitions of an ECS task definition: the strict model and its canonical form.

Kept apart from the driver because this is where a task definition's meaning
lives: which fields a container may declare, which environment entries are
refused as leaked secrets, and how both the YAML and the described revision are
put in one canonical shape so that every declared field of every container
compares equal after a register (no perpetual diff, no missed drift).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from controller.model import SpecModel
from controller.resources.shapes import ContainerPort, HostPort, SecretSourceArn

SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|PWD|TOKEN|KEY|CREDENTIAL", re.IGNORECASE)
# `user:password@host`, with or without a scheme, the user possibly empty (`redis://:pw@h`).
# A `mailto:` address is the one common `word:word@host` that holds no password.
CREDENTIALS_IN_URL = re.compile(r"(?:^|[\s,;=(\"'/])(?!mailto:)[^/\s:@,;=(\"']*:[^/\s@]+@[^\s@]",
                                re.IGNORECASE)
USE_SECRETS = ("put it in `secrets` with `valueFrom` a Secrets Manager secret ARN: "
               "secret values never live in git")
# Network modes where a port mapping's hostPort must equal its containerPort (AWS echoes it).
HOST_PORT_IS_CONTAINER_PORT = ("awsvpc", "host")


class StrictModel(SpecModel):
    """A container-level model: unknown fields are errors, and error messages never
    repeat the input (an environment value may be a credential)."""

    model_config = ConfigDict(hide_input_in_errors=True)


class EnvironmentVariable(StrictModel):
    name: str
    value: str = Field(description="plain configuration only; secrets go in `secrets`")

    @field_validator("value", mode="before")
    @classmethod
    def _scalar_as_text(cls, value: Any) -> Any:
        # ECS keeps environment values as strings; let YAML write `PORT: 8080`.
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        return value

    @model_validator(mode="after")
    def _not_a_secret(self) -> EnvironmentVariable:
        # The messages name the variable, never its value.
        if SECRET_NAME.search(self.name) or self.name.upper() == "DATABASE_URL":
            raise ValueError(f"environment variable {self.name!r} looks like a secret: "
                             f"{USE_SECRETS}")
        if CREDENTIALS_IN_URL.search(self.value):
            raise ValueError(f"the value of environment variable {self.name!r} holds "
                             f"credentials (user:password@): {USE_SECRETS}")
        return self


class SecretReference(StrictModel):
    name: str
    valueFrom: SecretSourceArn = Field(
        description="a Secrets Manager secret ARN (or SSM parameter ARN)")


class PortMapping(StrictModel):
    containerPort: ContainerPort
    hostPort: HostPort | None = Field(default=None, description="equals containerPort under awsvpc")
    protocol: Literal["tcp", "udp"] | None = Field(default=None, description="default tcp")
    name: str | None = None
    appProtocol: Literal["http", "http2", "grpc"] | None = None


class LogConfiguration(StrictModel):
    logDriver: str
    options: dict[str, str] | None = None


class HealthCheck(StrictModel):
    command: list[str]
    interval: int | None = None
    timeout: int | None = None
    retries: int | None = None
    startPeriod: int | None = None


class ContainerDefinition(StrictModel):
    """One container; every field declared here is compared with the live revision."""

    name: str
    image: str = Field(description="repository URI and tag or digest (ECS: up to 255 letters, "
                                   "digits and -_:./#@)")
    essential: bool | None = None
    cpu: int | None = None
    memory: int | None = Field(default=None, description="hard limit, MiB")
    memoryReservation: int | None = Field(default=None, description="soft limit, MiB")
    portMappings: list[PortMapping] | None = None
    environment: list[EnvironmentVariable] | None = None
    secrets: list[SecretReference] | None = None
    logConfiguration: LogConfiguration | None = None
    healthCheck: HealthCheck | None = None
    command: list[str] | None = None
    entryPoint: list[str] | None = None
    workingDirectory: str | None = None
    readonlyRootFilesystem: bool | None = None
    user: str | None = None
    stopTimeout: int | None = None

    @field_validator("image")
    @classmethod
    def _image_ecs_accepts(cls, image: str) -> str:
        # A ref's text stands for a URI only known later: the rest of the value is checked.
        text = re.sub(r"\$\{ref:[^}]*\}", "", image)
        if not IMAGE.fullmatch(text) or len(image) > IMAGE_MAX:
            raise ValueError(f"ECS takes an image of up to {IMAGE_MAX} letters, digits and "
                             "-_:./#@ (a repository URI, then :tag or @sha256:digest)")
        return image


# What ECS accepts as a container's image (RegisterTaskDefinition's reference).
IMAGE = re.compile(r"[A-Za-z0-9_.:/#@-]*")
IMAGE_MAX = 255


CONTAINER_FIELDS = tuple(ContainerDefinition.model_fields)


def canonical_containers(containers: list[dict[str, Any]], network_mode: str | None
                         ) -> list[dict[str, Any]]:
    """Containers in canonical form, for the YAML side and the described side alike.

    Sorted by name, environment and secrets sorted by name, port mappings with
    AWS's defaults explicit and sorted: ECS keeps none of these orders
    meaningful, and the emulator omits the defaults that AWS echoes.
    """
    out = [_canonical_container(c, network_mode) for c in containers]
    return sorted(out, key=lambda c: str(c.get("name", "")))


def _canonical_container(container: dict[str, Any], network_mode: str | None) -> dict[str, Any]:
    # Keep only the modelled fields: the described side carries mountPoints, volumesFrom...
    out = {k: v for k, v in container.items() if k in CONTAINER_FIELDS}
    for key in ("environment", "secrets"):
        if isinstance(out.get(key), list):
            out[key] = sorted(out[key], key=lambda e: str(e.get("name", "")))
    if isinstance(out.get("environment"), list):
        # ECS takes text only; a ref to a number (a database's port) is its text.
        out["environment"] = [_as_text(e) for e in out["environment"]]
    if isinstance(out.get("portMappings"), list):
        ports = [_canonical_port(p, network_mode) for p in out["portMappings"]]
        out["portMappings"] = sorted(ports, key=_port_order)
    return out


def _as_text(variable: Any) -> Any:
    value = variable.get("value") if isinstance(variable, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {**variable, "value": str(value)}
    return variable


def _canonical_port(mapping: dict[str, Any], network_mode: str | None) -> dict[str, Any]:
    out = dict(mapping)
    if out.get("protocol") is None:
        out["protocol"] = "tcp"
    if out.get("hostPort") is None and network_mode in HOST_PORT_IS_CONTAINER_PORT:
        out["hostPort"] = out.get("containerPort")
    return out


def _port_order(mapping: dict[str, Any]) -> tuple[int, str, int]:
    def number(value: Any) -> int:
        return value if isinstance(value, int) else -1

    return (number(mapping.get("containerPort")), str(mapping.get("protocol")),
            number(mapping.get("hostPort")))
