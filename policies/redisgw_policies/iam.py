"""IAM: least privilege for identity policies, and trust policies that say who may assume a role.

Identity policies are read wherever they can be written: ``aws:iam/policy:Policy``, the inline
``RolePolicy``/``UserPolicy``/``GroupPolicy`` resources and a role's ``inlinePolicies``. Managed
policy attachments are read from every attachment resource and from ``managedPolicyArns``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import Severity

from redisgw_policies._policy import (
    conditions,
    maps,
    policy_statements,
    principals,
    resource_policy,
    strings,
)

POLICY_DOCUMENT_TYPES = (
    "aws:iam/policy:Policy",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
)
ATTACHMENT_TYPES = (
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment",
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive",
)
ADMIN_POLICIES = (
    "AdministratorAccess",
    "PowerUserAccess",
    "IAMFullAccess",
    "AmazonS3FullAccess",
    "AWSKeyManagementServicePowerUser",
)
"""AWS managed policies that grant far more than any workload here needs."""


def _documents(props: Mapping[str, Any]) -> list[Any]:
    docs = [props.get("policy")] if "policy" in props else []
    docs += [p.get("policy") for p in maps(props.get("inlinePolicies"))]
    return docs


def wildcard_actions(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    for document in _documents(props):
        for s in policy_statements(document):
            if s.get("Effect") != "Allow":
                continue
            if "NotAction" in s:
                yield "An Allow statement uses NotAction: it grants everything it does not list."
            for action in strings(s.get("Action")):
                if action == "*" or action.endswith(":*"):
                    yield f"An Allow statement grants every action of a service ({action})."
            for action in strings(s.get("Action")):
                if action.lower() == "iam:passrole" and "*" in strings(s.get("Resource")):
                    yield "iam:PassRole is allowed on every role (Resource '*')."


def admin_attachments(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    arns = strings(props.get("policyArn")) + strings(props.get("managedPolicyArns")) + strings(props.get("policyArns"))
    for arn in arns:
        if arn.rsplit("/", 1)[-1] in ADMIN_POLICIES:
            yield f"Attaches the broad managed policy {arn.rsplit('/', 1)[-1]}."


def trust_policy(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    for s in policy_statements(props.get("assumeRolePolicy")):
        if s.get("Effect") != "Allow":
            continue
        names = principals(s)
        cond = conditions(s)
        if "*" in names and not cond:
            yield "The trust policy lets anyone assume the role (Principal '*')."
        if any(":oidc-provider/" in p or "token.actions.githubusercontent.com" in p for p in names):
            subjects = [value for key, values in cond.items() if key.endswith(":sub") for value in values]
            if not subjects:
                yield "The web-identity trust has no condition on the token subject (:sub)."
            elif any(v in ("*", "system:serviceaccount:*", "repo:*") or v.endswith(":*:*") for v in subjects):
                yield "The web-identity trust admits any subject (a wildcard :sub)."
            if not any(k.endswith(":aud") for k in cond):
                yield "The web-identity trust has no condition on the token audience (:aud)."


POLICIES = [
    resource_policy(
        name="iam-policy-disallow-wildcard-actions",
        description="Identity policies grant named actions: no '*', 'svc:*', NotAction or PassRole on '*'.",
        types=(*POLICY_DOCUMENT_TYPES, "aws:iam/role:Role"),
        rule=wildcard_actions,
        severity=Severity.HIGH,
        remediation="List the actions the workload calls and scope iam:PassRole to named roles.",
    ),
    resource_policy(
        name="iam-role-disallow-admin-policies",
        description="No role, user or group is given an administrator or full-access managed policy.",
        types=(*ATTACHMENT_TYPES, "aws:iam/role:Role"),
        rule=admin_attachments,
        severity=Severity.HIGH,
        remediation="Write a least-privilege policy instead of attaching AdministratorAccess or a *FullAccess policy.",
    ),
    resource_policy(
        name="iam-role-require-trust-conditions",
        description="Roles name who may assume them; web identities are bound to a subject and an audience.",
        types=("aws:iam/role:Role",),
        rule=trust_policy,
        severity=Severity.CRITICAL,
        remediation="Add StringEquals conditions on <issuer>:sub (the exact service account) and <issuer>:aud.",
    ),
]
