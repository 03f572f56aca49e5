"""The policies of the pack, by domain. ``policies/__main__.py`` only assembles them."""

from collections.abc import Sequence

from pulumi_policy import Policy

from redisgw_policies import capacity, ci, data, dr, edge, eks, iam, network, platform, workloads

PACK_NAME = "redisgw-production-readiness"
DOMAINS: dict[str, Sequence[Policy]] = {
    "eks": eks.POLICIES,
    "iam": iam.POLICIES,
    "network": network.POLICIES,
    "data": data.POLICIES,
    "edge": edge.POLICIES,
    "workloads": workloads.POLICIES,
    "platform": platform.POLICIES,
    "capacity": capacity.POLICIES,
    "ci": ci.POLICIES,
    "dr": dr.POLICIES,
}
"""Domain -> its policies (the README table groups by domain)."""
POLICIES: list[Policy] = [policy for policies in DOMAINS.values() for policy in policies]
