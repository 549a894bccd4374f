"""The JSON Schema of the desired-state format, for editors and `gitops schema`."""

from __future__ import annotations

from typing import Any

from controller.model import Policy
from controller.resources.registry import REGISTRY
from controller.spec.stack import StackConfig


def document_schema() -> dict[str, Any]:
    """A resource document is one of the kinds; each lists the attributes refs may read."""
    variants: list[dict[str, Any]] = []
    defs: dict[str, Any] = {"Policy": Policy.model_json_schema()}
    for kind, driver in sorted(REGISTRY.items()):
        spec = driver.spec_model.model_json_schema(ref_template="#/$defs/{model}")
        defs.update(spec.pop("$defs", {}))
        spec["x-attributes"] = list(driver.attributes)
        spec["x-immutable"] = sorted(driver.immutable)
        spec["x-holds-data"] = driver.holds_data
        spec["x-identity"] = driver.identity
        defs[kind] = spec
        properties: dict[str, Any] = {
            "kind": {"const": kind},
            "name": {"type": "string", "minLength": 1, "description": driver.name_rule.text},
            "spec": {"$ref": f"#/$defs/{kind}"},
            "policy": {"$ref": "#/$defs/Policy"},
            "dependsOn": {
                "type": "array", "items": {"type": "string", "pattern": "^[^/]+/.+$"},
                "description": "resources (Kind/name) to make first, where no ref says so"},
        }
        if driver.identity == "tags":
            properties["adopt"] = {
                "type": "string", "minLength": 1,
                "description": "the AWS id of an existing resource to take over (made by hand "
                               "or another tool); inert once it carries this stack's tags"}
        variants.append({
            "type": "object",
            "additionalProperties": False,
            "required": ["kind", "name", "spec"],
            "properties": properties,
        })
    stack = StackConfig.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "IQ Theory GitOps desired state",
        "description": "One resource per YAML document; stack.yaml follows $defs/StackConfig. "
                       "Values may be ${values.x} or ${ref:Kind/name.attr} substitutions.",
        "oneOf": variants,
        "$defs": {**defs, "StackConfig": stack},
    }
