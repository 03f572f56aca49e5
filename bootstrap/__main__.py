"""Bootstrap of an account for the redisgw stacks: what must exist before their first ``pulumi up``.

Composes: settings (this project's config and the served stacks' files) -> the state bucket and the
secrets-provider key -> the CI roles -> the GitHub connection -> the alerting secrets' shells ->
exports. README, "Real deployments", gives the commands in order.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pulumi
import pulumi_aws as aws

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # the program's settings and hardened building blocks, shared
    sys.path.insert(0, str(REPO))

from typing import Any  # noqa: E402

from bootstrap import ci_policies  # noqa: E402
from bootstrap.config import KEYS, NAMESPACE, BootstrapError, Role, load  # noqa: E402
from components._shared import encryption_key, private_bucket  # noqa: E402

config = pulumi.Config(NAMESPACE)
region = pulumi.Config("aws").require("region")
values = {
    key: value
    for key, value in (
        ("stacks", config.get_object("stacks")),
        ("stateRetentionDays", config.get_int("stateRetentionDays")),
        ("githubConnectionReady", config.get_bool("githubConnectionReady")),
        ("githubOidcProviderArn", config.get("githubOidcProviderArn")),
    )
    if value is not None
}
# Every other key of the namespace the stack sets, for load() to refuse (the CLI passes them all).
values.update(
    (name, value)
    for key, value in {**pulumi.runtime.get_config_env(), **pulumi.runtime.config.CONFIG.get()}.items()
    for namespace, _, name in [key.partition(":")]
    if namespace == NAMESPACE and name not in KEYS
)
cfg = load(values, root=REPO, region=region, source=f"Pulumi.{pulumi.get_stack()}.yaml")


def _same_account(account: str) -> str:
    if account != cfg.account:
        raise BootstrapError(
            f"the served stacks' runner roles are in account {cfg.account}, but these credentials are of {account}"
        )
    return account


aws.get_caller_identity_output().account_id.apply(_same_account)
protected = pulumi.ResourceOptions(protect=True)
KEY_ARN_SAMPLE = f"arn:{cfg.partition}:kms:{region}:{cfg.account}:key/00000000-0000-0000-0000-000000000000"
"""A KMS key ARN of the length the real one has (the key id is a UUID)."""

# -- state and secrets provider -------------------------------------------------------------------
key = encryption_key(
    "pulumi-redisgw", description="Pulumi secrets provider and state encryption", region=region, opts=protected
)
bucket = private_bucket("pulumi-state", key=key, opts=protected)
aws.s3.BucketLifecycleConfiguration(
    "pulumi-state",
    bucket=bucket.id,
    rules=[
        aws.s3.BucketLifecycleConfigurationRuleArgs(
            id="state-history",
            status="Enabled",
            filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
            noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                noncurrent_days=cfg.state_retention_days
            ),
            abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                days_after_initiation=7
            ),
        )
    ],
)

# -- CI roles --------------------------------------------------------------------------------------


def _document(role: Role, arns: list[str]) -> dict[str, Any]:
    build = ci_policies.deploy_policy if role.purpose == "deploy" else ci_policies.preview_policy
    return build(cfg, role, bucket_arn=arns[0], key_arn=arns[1])


def _part(role: Role, groups: list[list[int]], index: int) -> pulumi.Output[str]:
    return pulumi.Output.all(bucket.arn, key.arn).apply(
        lambda arns: json.dumps(ci_policies.parts(_document(role, arns), groups)[index])
    )


role_arns = {}
for role in cfg.roles:
    ci_role = aws.iam.Role(
        role.name,
        name=role.name,
        description=f"CodeBuild {role.purpose} runners of {', '.join(s.name for s in role.stacks)}",
        assume_role_policy=json.dumps(ci_policies.codebuild_trust(cfg, role)),
        max_session_duration=3600,
    )
    # The role's policy is larger than one managed policy may be (IAM quota): its statements are
    # grouped with stand-in ARNs of the real ones' length, so the number of parts is known before the
    # bucket and key exist; each part keeps ci_policies.SPLIT_MARGIN characters spare.
    groups = ci_policies.grouping(_document(role, [f"arn:{cfg.partition}:s3:::pulumi-state-0000000", KEY_ARN_SAMPLE]))
    for index in range(len(groups)):
        part = aws.iam.Policy(
            f"{role.name}-{index + 1}",
            name=f"{role.name}-{index + 1}",
            description=f"{role.purpose} runner of {role.stacks[0].name}, part {index + 1}",
            policy=_part(role, groups, index),
        )
        aws.iam.RolePolicyAttachment(f"{role.name}-{index + 1}", role=ci_role.name, policy_arn=part.arn)
    role_arns[role.name] = ci_role.arn

oidc_arn: pulumi.Input[str] = (
    cfg.github_oidc_provider_arn
    or aws.iam.OpenIdConnectProvider(
        "github-actions",
        url="https://token.actions.githubusercontent.com",
        client_id_lists=["sts.amazonaws.com"],
    ).arn
)
publisher = aws.iam.Role(
    "github-actions-ops-image",
    name="github-actions-ops-image",
    description="The ops-image job: pushes to the stacks' ops image repositories",
    assume_role_policy=pulumi.Output.from_input(oidc_arn).apply(
        lambda arn: json.dumps(ci_policies.github_trust(cfg, arn))
    ),
    max_session_duration=3600,
)
aws.iam.RolePolicy("github-actions-ops-image", role=publisher.id, policy=json.dumps(ci_policies.ops_image_policy(cfg)))

# -- the runners' GitHub connection ------------------------------------------------------------------
connection = aws.codeconnections.Connection("github", name="redisgw-github", provider_type="GitHub")
if cfg.github_connection_ready:
    # One source credential per server type and region: the runner projects of every stack use it.
    for r in sorted({s.region for s in cfg.stacks}):
        aws.codebuild.SourceCredential(
            f"github-{r}",
            auth_type="CODECONNECTIONS",
            server_type="GITHUB",
            token=connection.arn,
            region=r,
        )

# -- the alerting secrets' shells (their value is put by hand, never through Pulumi) ---------------
for stack in cfg.stacks:
    if stack.alert_secret_name and not stack.alert_secret_name.startswith("arn:"):
        aws.secretsmanager.Secret(
            f"{stack.name}-alerting",
            name=stack.alert_secret_name,
            description=f"Alert receivers of {stack.name}: JSON with slackWebhookUrl, pagerdutyRoutingKey, heartbeatUrl"
            + (", drHeartbeatUrl" if stack.dr_region else ""),
            kms_key_id=key.arn,
            recovery_window_in_days=30,
            region=stack.region,
            opts=protected,
        )

pulumi.export("backendUrl", pulumi.Output.concat("s3://", bucket.bucket, f"?region={region}"))
pulumi.export("secretsProvider", f"awskms://alias/pulumi-redisgw?region={region}")
pulumi.export("roleArns", role_arns)
pulumi.export("opsImagePublishRoleArn", publisher.arn)
pulumi.export("githubConnectionArn", connection.arn)
pulumi.export("githubConnectionStatus", connection.connection_status)
