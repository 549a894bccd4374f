"""A request path exists, on paper, from the internet to each task: checked against the
declared routes, groups, load balancer and services of desired/, and printed as the
README's diagram (the README must show the same lines)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from controller.resources.registry import REGISTRY
from controller.spec.loader import load_stack
from controller.spec.stack import ResourceDoc
from tests.stacks import DESIRED, REPO

REF = re.compile(r"\$\{ref:(?P<target>[^}]+)\.[A-Za-z]+\}")


def target(value: Any) -> str:
    match = REF.fullmatch(str(value))
    assert match, f"{value!r} is not a ${{ref:...}}"
    return match["target"]


def admits(group: ResourceDoc, port: int, *, cidr: str | None = None,
           source: str | None = None) -> bool:
    for rule in group.spec.get("ingress") or []:
        low, high = rule.get("fromPort", 0), rule.get("toPort", rule.get("fromPort", 65535))
        if rule.get("protocol") in ("tcp", "-1") and low <= port <= high:
            if cidr is not None and rule.get("cidrIpv4") == cidr:
                return True
            if source is not None and rule.get("sourceSecurityGroupId") and \
                    target(rule["sourceSecurityGroupId"]) == source:
                return True
    return False


def routes_out(docs: dict[str, ResourceDoc], subnet: str, via: str) -> str:
    """The route table of `subnet` sending 0.0.0.0/0 to a `via` (gatewayId/natGatewayId)."""
    for doc in docs.values():
        if doc.kind == "ec2.RouteTable" and subnet in {target(s) for s in
                                                       doc.spec.get("subnetIds") or []}:
            for route in doc.spec.get("routes") or []:
                if route.get("destinationCidrBlock") == "0.0.0.0/0" and route.get(via):
                    return f"{doc.id} -> {target(route[via])}"
    raise AssertionError(f"{subnet}: no route table sends 0.0.0.0/0 through a {via}")


def request_paths(env: str) -> list[str]:
    docs = load_stack(DESIRED / env, REGISTRY).by_id()
    lines = []
    for service in (d for d in docs.values() if d.kind == "ecs.Service"):
        for balanced in service.spec.get("loadBalancers") or []:
            group, port = target(balanced["targetGroupArn"]), balanced["containerPort"]
            assert docs[group].spec["port"] == port, (group, port)
            listeners = [d for d in docs.values() if d.kind == "elbv2.Listener"
                         and d.spec["protocol"] == "HTTPS"]
            via = []
            for listener in listeners:
                if any(target(a.get("targetGroupArn", "")) == group
                       for a in listener.spec["defaultActions"] if a["type"] == "forward"):
                    via.append((listener, "default"))
                for rule in (d for d in docs.values() if d.kind == "elbv2.ListenerRule"
                             and target(d.spec["listenerArn"]) == listener.id):
                    if any(target(a.get("targetGroupArn", "")) == group
                           for a in rule.spec["actions"] if a["type"] == "forward"):
                        paths = [v for c in rule.spec["conditions"] for v in c["values"]]
                        via.append((listener, " ".join(paths)))
            assert via, f"{service.id}: no HTTPS listener or rule forwards to {group}"
            listener, match = via[0]
            balancer = docs[target(listener.spec["loadBalancerArn"])]
            assert balancer.spec["scheme"] == "internet-facing"
            edges = {routes_out(docs, target(s), "gatewayId")
                     for s in balancer.spec["subnets"]}
            (lb_group,) = [target(g) for g in balancer.spec["securityGroups"]]
            assert admits(docs[lb_group], 443, cidr="0.0.0.0/0"), lb_group
            vpc = service.spec["networkConfiguration"]["awsvpcConfiguration"]
            assert any(admits(docs[target(g)], port, source=lb_group)
                       for g in vpc["securityGroups"]), (service.id, lb_group, port)
            egress = {routes_out(docs, target(s), "natGatewayId") for s in vpc["subnets"]}
            lines.append(f"internet -> {sorted(edges)[0].split(' -> ')[1]} -> {balancer.id} "
                         f"(:443, {lb_group}) -> {listener.id} [{match}] -> {group} -> "
                         f"{service.id} :{port} (egress: "
                         f"{', '.join(e.split(' -> ')[1] for e in sorted(egress))})")
    return sorted(lines)


@pytest.mark.parametrize("env", ["prod", "dev"])
def test_every_balanced_service_is_reachable_from_the_internet(env: str) -> None:
    paths = request_paths(env)
    assert len(paths) == 2, paths
    readme = (REPO / "README.md").read_text()
    if env == "prod":
        for line in paths:
            assert line in readme, f"the README's request paths are stale; add:\n{line}"


@pytest.mark.parametrize("env", ["prod", "dev"])
def test_nat_gateways_are_made_after_the_internet_gateway(env: str) -> None:
    """AWS fails a public NAT gateway in a VPC without an internet gateway: `dependsOn`."""
    docs = load_stack(DESIRED / env, REGISTRY).by_id()
    nats = [d for d in docs.values() if d.kind == "ec2.NatGateway"]
    assert len(nats) == {"prod": 2, "dev": 1}[env]
    for nat in nats:
        assert "ec2.InternetGateway/iq-theory-igw" in nat.depends_on, nat.id
        assert "via" not in (nat.spec.get("tags") or {})
