"""The CI roles' policy documents, derived from what the program creates and what CI calls.

Three roles, each with the least it needs:

* **deploy** (the deploy runners' CodeBuild role): ``pulumi up`` of the program, so the write
  actions of every resource type it declares (:data:`TYPE_ACTIONS`, one entry per type; a test
  requires an entry for every AWS type of both stacks' plans and of ``pulumi_eks.Cluster``'s
  children) and the reads of their services (``Describe*``/``Get*``/``List*``, which a refresh
  needs), regional services only in the served stacks' regions; the state and its key; the
  alerting secrets; what ``ops verify`` and ``ops readiness`` call (recorded under moto by a test).
* **preview** (the pull-request preview runners): the same reads, the state read-only except its
  lock files, the secrets-provider key to decrypt, the alerting secrets the program reads at
  preview; explicitly no object of any other bucket (backups stay out of a pull request's reach).
* **ops-image** (GitHub OIDC, the ``ops-image`` job): the ECR token and pushes to the stacks'
  ``redisgw-<stack>/ops`` repositories only.

Both runner roles also get what a CodeBuild project in a VPC needs to start (AWS CodeBuild user
guide, "Allow CodeBuild access to AWS services required to create a VPC network interface":
``ec2:CreateNetworkInterface``, ``DescribeDhcpOptions``, ``DescribeNetworkInterfaces``,
``DeleteNetworkInterface``, ``DescribeSubnets``, ``DescribeSecurityGroups``, ``DescribeVpcs``, and
``ec2:CreateNetworkInterfacePermission`` bound to ``ec2:AuthorizedService`` codebuild), to write
its own log streams, and to use the GitHub connection (CodeBuild user guide, "GitHub App
connections": ``codeconnections:GetConnectionToken``/``GetConnection``, also under the former
``codestar-connections`` prefix).

The pack's ``iam-policy-disallow-wildcard-actions`` holds: no ``*`` and no ``service:*``; verb
wildcards (``ec2:Describe*``) and named actions only; ``iam:PassRole`` only to the services the
program hands roles to.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from bootstrap.config import Bootstrap, Role

READ_VERBS = ("Describe*", "Get*", "List*")

TYPE_ACTIONS: Mapping[str, tuple[str, ...]] = {
    "aws:acm/certificate:Certificate": (
        "acm:RequestCertificate",
        "acm:DeleteCertificate",
        "acm:AddTagsToCertificate",
        "acm:RemoveTagsFromCertificate",
        "acm:UpdateCertificateOptions",
    ),
    "aws:acm/certificateValidation:CertificateValidation": ("acm:DescribeCertificate",),
    "aws:backup/plan:Plan": (
        "backup:CreateBackupPlan",
        "backup:UpdateBackupPlan",
        "backup:DeleteBackupPlan",
        "backup:TagResource",
        "backup:UntagResource",
    ),
    "aws:backup/selection:Selection": ("backup:CreateBackupSelection", "backup:DeleteBackupSelection", "iam:PassRole"),
    "aws:backup/vault:Vault": (
        "backup:CreateBackupVault",
        "backup:DeleteBackupVault",
        "backup:TagResource",
        "backup:UntagResource",
        "backup-storage:MountCapsule",
        "kms:CreateGrant",
        "kms:DescribeKey",
    ),
    "aws:backup/vaultLockConfiguration:VaultLockConfiguration": (
        "backup:PutBackupVaultLockConfiguration",
        "backup:DeleteBackupVaultLockConfiguration",
    ),
    "aws:cloudwatch/logGroup:LogGroup": (
        "logs:CreateLogGroup",
        "logs:DeleteLogGroup",
        "logs:PutRetentionPolicy",
        "logs:DeleteRetentionPolicy",
        "logs:AssociateKmsKey",
        "logs:DisassociateKmsKey",
        "logs:TagResource",
        "logs:UntagResource",
    ),
    "aws:cloudwatch/metricAlarm:MetricAlarm": (
        "cloudwatch:PutMetricAlarm",
        "cloudwatch:DeleteAlarms",
        "cloudwatch:TagResource",
        "cloudwatch:UntagResource",
    ),
    "aws:codebuild/project:Project": (
        "codebuild:CreateProject",
        "codebuild:UpdateProject",
        "codebuild:DeleteProject",
        "codebuild:BatchGetProjects",
        "iam:PassRole",
    ),
    "aws:codebuild/webhook:Webhook": ("codebuild:CreateWebhook", "codebuild:UpdateWebhook", "codebuild:DeleteWebhook"),
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": (
        "ec2:AuthorizeSecurityGroupIngress",
        "ec2:AuthorizeSecurityGroupEgress",
        "ec2:RevokeSecurityGroupIngress",
        "ec2:RevokeSecurityGroupEgress",
        "ec2:CreateTags",
        "ec2:DeleteTags",
    ),
    "aws:ec2/eip:Eip": ("ec2:AllocateAddress", "ec2:ReleaseAddress", "ec2:DisassociateAddress", "ec2:CreateTags"),
    "aws:ec2/flowLog:FlowLog": ("ec2:CreateFlowLogs", "ec2:DeleteFlowLogs", "ec2:CreateTags", "iam:PassRole"),
    "aws:ec2/internetGateway:InternetGateway": (
        "ec2:CreateInternetGateway",
        "ec2:DeleteInternetGateway",
        "ec2:AttachInternetGateway",
        "ec2:DetachInternetGateway",
        "ec2:CreateTags",
    ),
    "aws:ec2/launchTemplate:LaunchTemplate": (
        "ec2:CreateLaunchTemplate",
        "ec2:CreateLaunchTemplateVersion",
        "ec2:ModifyLaunchTemplate",
        "ec2:DeleteLaunchTemplate",
        "ec2:CreateTags",
    ),
    "aws:ec2/natGateway:NatGateway": ("ec2:CreateNatGateway", "ec2:DeleteNatGateway", "ec2:CreateTags"),
    "aws:ec2/route:Route": ("ec2:CreateRoute", "ec2:ReplaceRoute", "ec2:DeleteRoute"),
    "aws:ec2/routeTable:RouteTable": ("ec2:CreateRouteTable", "ec2:DeleteRouteTable", "ec2:CreateTags"),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": (
        "ec2:AssociateRouteTable",
        "ec2:DisassociateRouteTable",
        "ec2:ReplaceRouteTableAssociation",
    ),
    "aws:ec2/securityGroup:SecurityGroup": (
        "ec2:CreateSecurityGroup",
        "ec2:DeleteSecurityGroup",
        "ec2:AuthorizeSecurityGroupIngress",
        "ec2:AuthorizeSecurityGroupEgress",
        "ec2:RevokeSecurityGroupIngress",
        "ec2:RevokeSecurityGroupEgress",
        "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
        "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
        "ec2:CreateTags",
        "ec2:DeleteTags",
    ),
    "aws:ec2/subnet:Subnet": ("ec2:CreateSubnet", "ec2:DeleteSubnet", "ec2:ModifySubnetAttribute", "ec2:CreateTags"),
    "aws:ec2/vpc:Vpc": ("ec2:CreateVpc", "ec2:DeleteVpc", "ec2:ModifyVpcAttribute", "ec2:CreateTags"),
    "aws:ec2/vpcEndpoint:VpcEndpoint": (
        "ec2:CreateVpcEndpoint",
        "ec2:ModifyVpcEndpoint",
        "ec2:DeleteVpcEndpoints",
        "ec2:CreateTags",
        "route53:AssociateVPCWithHostedZone",
    ),
    "aws:ec2/vpcPeeringConnection:VpcPeeringConnection": (
        "ec2:CreateVpcPeeringConnection",
        "ec2:DeleteVpcPeeringConnection",
        "ec2:ModifyVpcPeeringConnectionOptions",
        "ec2:CreateTags",
    ),
    "aws:ec2/vpcPeeringConnectionAccepter:VpcPeeringConnectionAccepter": (
        "ec2:AcceptVpcPeeringConnection",
        "ec2:ModifyVpcPeeringConnectionOptions",
        "ec2:CreateTags",
    ),
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": ("ecr:PutLifecyclePolicy", "ecr:DeleteLifecyclePolicy"),
    "aws:ecr/repository:Repository": (
        "ecr:CreateRepository",
        "ecr:DeleteRepository",
        "ecr:PutImageTagMutability",
        "ecr:PutImageScanningConfiguration",
        "ecr:TagResource",
        "ecr:UntagResource",
        "kms:CreateGrant",
        "kms:DescribeKey",
    ),
    "aws:ecr/repositoryPolicy:RepositoryPolicy": ("ecr:SetRepositoryPolicy", "ecr:DeleteRepositoryPolicy"),
    "aws:eks/accessEntry:AccessEntry": ("eks:CreateAccessEntry", "eks:UpdateAccessEntry", "eks:DeleteAccessEntry"),
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": (
        "eks:AssociateAccessPolicy",
        "eks:DisassociateAccessPolicy",
    ),
    "aws:eks/addon:Addon": ("eks:CreateAddon", "eks:UpdateAddon", "eks:DeleteAddon", "eks:TagResource", "iam:PassRole"),
    "aws:eks/cluster:Cluster": (
        "eks:CreateCluster",
        "eks:DeleteCluster",
        "eks:UpdateClusterConfig",
        "eks:UpdateClusterVersion",
        "eks:AssociateEncryptionConfig",
        "eks:TagResource",
        "eks:UntagResource",
        "iam:PassRole",
        "iam:CreateServiceLinkedRole",
        "kms:CreateGrant",
        "kms:DescribeKey",
    ),
    "aws:eks/nodeGroup:NodeGroup": (
        "eks:CreateNodegroup",
        "eks:DeleteNodegroup",
        "eks:UpdateNodegroupConfig",
        "eks:UpdateNodegroupVersion",
        "eks:TagResource",
        "eks:UntagResource",
        "iam:PassRole",
        "iam:CreateServiceLinkedRole",
        "ec2:RunInstances",
        "ec2:CreateLaunchTemplateVersion",
    ),
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": (
        "iam:CreateOpenIDConnectProvider",
        "iam:DeleteOpenIDConnectProvider",
        "iam:UpdateOpenIDConnectProviderThumbprint",
        "iam:AddClientIDToOpenIDConnectProvider",
        "iam:RemoveClientIDFromOpenIDConnectProvider",
        "iam:TagOpenIDConnectProvider",
        "iam:UntagOpenIDConnectProvider",
    ),
    "aws:iam/role:Role": (
        "iam:CreateRole",
        "iam:DeleteRole",
        "iam:UpdateRole",
        "iam:UpdateRoleDescription",
        "iam:UpdateAssumeRolePolicy",
        "iam:TagRole",
        "iam:UntagRole",
        "iam:PutRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:DetachRolePolicy",
    ),
    "aws:iam/rolePolicy:RolePolicy": ("iam:PutRolePolicy", "iam:DeleteRolePolicy"),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ("iam:AttachRolePolicy", "iam:DetachRolePolicy"),
    "aws:kms/alias:Alias": ("kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias"),
    "aws:kms/key:Key": (
        "kms:CreateKey",
        "kms:PutKeyPolicy",
        "kms:EnableKeyRotation",
        "kms:DisableKeyRotation",
        "kms:UpdateKeyDescription",
        "kms:TagResource",
        "kms:UntagResource",
        "kms:ScheduleKeyDeletion",
        "kms:CancelKeyDeletion",
        "kms:EnableKey",
        "kms:DisableKey",
    ),
    "aws:route53/healthCheck:HealthCheck": (
        "route53:CreateHealthCheck",
        "route53:UpdateHealthCheck",
        "route53:DeleteHealthCheck",
        "route53:ChangeTagsForResource",
    ),
    "aws:route53/record:Record": ("route53:ChangeResourceRecordSets", "route53:GetChange"),
    "aws:s3/bucket:Bucket": (
        "s3:CreateBucket",
        "s3:DeleteBucket",
        "s3:PutBucketTagging",
        "s3:PutBucketObjectLockConfiguration",
    ),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": ("s3:PutLifecycleConfiguration",),
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration": ("s3:PutBucketObjectLockConfiguration",),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": ("s3:PutBucketOwnershipControls",),
    "aws:s3/bucketPolicy:BucketPolicy": ("s3:PutBucketPolicy", "s3:DeleteBucketPolicy"),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": ("s3:PutBucketPublicAccessBlock",),
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig": ("s3:PutReplicationConfiguration", "iam:PassRole"),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "s3:PutEncryptionConfiguration",
    ),
    "aws:s3/bucketVersioning:BucketVersioning": ("s3:PutBucketVersioning",),
    "aws:secretsmanager/secret:Secret": (
        "secretsmanager:CreateSecret",
        "secretsmanager:UpdateSecret",
        "secretsmanager:DeleteSecret",
        "secretsmanager:TagResource",
        "secretsmanager:UntagResource",
        "secretsmanager:PutResourcePolicy",
        "secretsmanager:DeleteResourcePolicy",
        # The DR Redis password is replicated to the standby region (``replicas``).
        "secretsmanager:ReplicateSecretToRegions",
        "secretsmanager:RemoveRegionsFromReplication",
        "kms:GenerateDataKey",
        "kms:Encrypt",
        "kms:Decrypt",
    ),
    "aws:secretsmanager/secretVersion:SecretVersion": (
        "secretsmanager:PutSecretValue",
        "secretsmanager:UpdateSecretVersionStage",
        "kms:GenerateDataKey",
        "kms:Decrypt",
    ),
    "aws:sns/topic:Topic": (
        "sns:CreateTopic",
        "sns:DeleteTopic",
        "sns:SetTopicAttributes",
        "sns:TagResource",
        "sns:UntagResource",
    ),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": (
        "ec2:AuthorizeSecurityGroupIngress",
        "ec2:RevokeSecurityGroupIngress",
        "ec2:ModifySecurityGroupRules",
        "ec2:CreateTags",
    ),
    "aws:wafv2/webAcl:WebAcl": (
        "wafv2:CreateWebACL",
        "wafv2:UpdateWebACL",
        "wafv2:DeleteWebACL",
        "wafv2:TagResource",
        "wafv2:UntagResource",
    ),
    "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration": (
        "wafv2:PutLoggingConfiguration",
        "wafv2:DeleteLoggingConfiguration",
        "logs:CreateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:PutResourcePolicy",
        "iam:CreateServiceLinkedRole",
    ),
}
"""Pulumi type -> the write actions ``pulumi up`` needs to create, update and delete it (reads come
from :data:`READ_VERBS` on its service). From the AWS Service Authorization Reference, each
service's "Actions defined by ..." table, for the API calls of the AWS provider's create, update
and delete of that resource."""

PULUMI_EKS_CHILDREN = (
    "aws:eks/cluster:Cluster",
    "aws:iam/role:Role",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
    "aws:eks/accessEntry:AccessEntry",
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
    "aws:eks/addon:Addon",
)
"""What ``pulumi_eks.Cluster`` (v4, authentication mode API, no default node group nor default
security groups) creates under the program: opaque to the offline engine, listed from pulumi-eks's
``nodejs/eks/cluster.ts`` (``createCore``: the cluster, its service role and attachments, the OIDC
provider, access entries and their policy associations, the vpc-cni/coredns/kube-proxy add-ons)."""

PROGRAM_INVOKES = ("secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret")
"""What the program reads while it runs (``aws.secretsmanager.get_secret_version``: the alerting
secret); ``sts:GetCallerIdentity`` needs no permission."""

PASS_ROLE_SERVICES = (
    "eks.amazonaws.com",
    "ec2.amazonaws.com",
    "codebuild.amazonaws.com",
    "backup.amazonaws.com",
    "s3.amazonaws.com",
    "vpc-flow-logs.amazonaws.com",
)
"""The services the program hands a role to (cluster, node groups, runners, AWS Backup, S3
replication, flow logs): ``iam:PassRole`` is bound to them with ``iam:PassedToService``."""

SERVICE_LINKED_ROLES = (
    "eks.amazonaws.com",
    "eks-nodegroup.amazonaws.com",
    "autoscaling.amazonaws.com",
    "wafv2.amazonaws.com",
    "elasticloadbalancing.amazonaws.com",
)
"""Service-linked roles a first ``up`` in a fresh account may create (``iam:AWSServiceName``)."""

GLOBAL_SERVICES = ("iam", "route53")
"""Services whose requests are not regional (``aws:RequestedRegion`` is us-east-1 for them)."""

READINESS_SERVICES = ("elasticloadbalancing", "wafv2", "acm", "backup", "route53", "eks", "s3")
"""What ``ops readiness`` reads besides the program's services (the load balancer the controller
makes, its web ACL association)."""

STATE_OBJECT_READ = ("s3:GetObject", "s3:GetObjectVersion")
STATE_OBJECT_WRITE = ("s3:PutObject", "s3:DeleteObject")
STATE_KEY_USE = ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey")
"""The DIY S3 backend reads and writes ``.pulumi/`` objects and lists the bucket (Pulumi docs, "State
and backends": AWS S3); the ``awskms://`` secrets provider encrypts and decrypts the stack's data key
(gocloud.dev ``secrets/awskms``), and SSE-KMS on the bucket needs GenerateDataKey to write."""

ECR_PUSH = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
    "ecr:BatchGetImage",
)
"""``docker push`` to ECR (Amazon ECR user guide, "Required IAM permissions for pushing an image")."""
ECR_PULL = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
"""``cosign sign``/``attest`` read the image's manifest and an existing signature or attestation
image; ``cosign verify`` downloads the signature layers (ECR user guide, pulling an image)."""

BACKUP_BUCKETS = "backups-*/*"
"""The backup bucket and its DR replica (logical names ``backups-bucket``/``backups-replica``)."""

DATA_READS = (
    "secretsmanager:GetSecretValue",
    "s3:GetObject",
    "s3:GetObjectVersion",
    "logs:GetLogEvents",
    "logs:GetQueryResults",
    "ecr:GetDownloadUrlForLayer",
    "ec2:GetConsoleOutput",
    "ec2:GetConsoleScreenshot",
    "ec2:GetPasswordData",
)
"""Reads of data, not of configuration, that ``Get*`` would grant: denied outside what each role
must read (its stack's state and alerting secret; the deploy role also its stack's secrets and the
backups ``ops verify`` restores)."""

STATE_GUARDS = (
    "s3:DeleteBucket",
    "s3:DeleteObjectVersion",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketVersioning",
    "s3:PutLifecycleConfiguration",
    "s3:PutEncryptionConfiguration",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketOwnershipControls",
    "s3:PutBucketAcl",
    "s3:PutObjectAcl",
)
KEY_GUARDS = (
    "kms:ScheduleKeyDeletion",
    "kms:DisableKey",
    "kms:PutKeyPolicy",
    "kms:DisableKeyRotation",
    "kms:CreateGrant",
    "kms:UpdateAlias",
    "kms:DeleteAlias",
)
"""What no CI role may do to the state bucket and its key, whatever else it is granted: they are the
bootstrap's, and the state's history is what recovers a stack."""


def program_write_actions() -> list[str]:
    return sorted({a for actions in TYPE_ACTIONS.values() for a in actions if a.split(":", 1)[0] != "iam"})


def _statement(sid: str, actions: Iterable[str], resources: Any = "*", **condition: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": sorted(set(actions)), "Resource": resources}
    if condition:
        out["Condition"] = condition
    return out


def _regional(sid: str, actions: Iterable[str], regions: Iterable[str]) -> list[dict[str, Any]]:
    actions = sorted(set(actions))
    regional = [a for a in actions if a.split(":", 1)[0] not in GLOBAL_SERVICES]
    global_ = [a for a in actions if a.split(":", 1)[0] in GLOBAL_SERVICES]
    out = []
    if regional:
        out.append(_statement(sid, regional, "*", StringEquals={"aws:RequestedRegion": sorted(set(regions))}))
    if global_:
        out.append(_statement(f"{sid}Global", global_))
    return out


def runner_statements(bootstrap: Bootstrap, role: Role) -> list[dict[str, Any]]:
    """What a CodeBuild runner in the VPC needs before the job's first step."""
    p, account = bootstrap.partition, bootstrap.account
    log_groups = [
        f"arn:{p}:logs:{s.region}:{account}:log-group:/aws/codebuild/{s.project(role.purpose)}:*" for s in role.stacks
    ]
    regions = sorted({s.region for s in role.stacks})
    subnets = [f"arn:{p}:ec2:{r}:{account}:subnet/*" for r in regions]
    return [
        _statement("RunnerLogs", ("logs:CreateLogStream", "logs:PutLogEvents"), log_groups),
        _statement(
            "RunnerNetworkInterfaces",
            (
                "ec2:CreateNetworkInterface",
                "ec2:DeleteNetworkInterface",
                "ec2:DescribeDhcpOptions",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
                "ec2:DescribeVpcs",
            ),
            "*",
            StringEquals={"aws:RequestedRegion": regions},
        ),
        _statement(
            "RunnerNetworkInterfacePermission",
            ("ec2:CreateNetworkInterfacePermission",),
            [f"arn:{p}:ec2:{r}:{account}:network-interface/*" for r in regions],
            StringEquals={"ec2:AuthorizedService": "codebuild.amazonaws.com"},
            ArnLike={"ec2:Subnet": subnets},
        ),
        _statement(
            "RunnerGitHubConnection",
            (
                "codeconnections:GetConnection",
                "codeconnections:GetConnectionToken",
                "codestar-connections:GetConnection",
                "codestar-connections:GetConnectionToken",
            ),
            [
                f"arn:{p}:{prefix}:{r}:{account}:connection/*"
                for prefix in ("codeconnections", "codestar-connections")
                for r in regions
            ],
        ),
    ]


def state_objects(bucket_arn: str, stack: str, project: str = "redisgw") -> dict[str, list[str]]:
    """The DIY backend's keys of one stack (pulumi/pulumi ``pkg/backend/diy``: ``store.go``
    ``StackBasePath``/``HistoryDir``/``BackupDir`` under ``.pulumi/{stacks,history,backups}/<project>``,
    ``lock.go`` ``stackLockDir``: ``.pulumi/locks/<org>/<project>/<stack>``)."""
    root = f"{bucket_arn}/.pulumi"
    return {
        "state": [f"{root}/stacks/{project}/{stack}.json*", f"{root}/history/{project}/{stack}/*"],
        "backups": [f"{root}/backups/{project}/{stack}/*"],
        "locks": [f"{root}/locks/*/{project}/{stack}/*"],
        "meta": [f"{root}/meta.yaml"],
    }


def _state(bootstrap: Bootstrap, role: Role, bucket_arn: str, key_arn: str, *, write: bool) -> list[dict[str, Any]]:
    keys: dict[str, list[str]] = {}
    for stack in role.stacks:
        for kind, arns in state_objects(bucket_arn, stack.name).items():
            keys.setdefault(kind, []).extend(arns)
    everything = [arn for arns in keys.values() for arn in arns]
    writable = keys["state"] + keys["backups"] + keys["locks"] if write else keys["locks"]
    return [
        _statement("StateList", ("s3:ListBucket", "s3:GetBucketLocation", "s3:GetBucketVersioning"), bucket_arn),
        _statement("StateRead", STATE_OBJECT_READ, everything),
        _statement("StateWrite", STATE_OBJECT_WRITE, writable),
        _statement("StateKey", STATE_KEY_USE if write else ("kms:Decrypt", "kms:GenerateDataKey"), key_arn),
        {
            "Sid": "StateBucketGuards",
            "Effect": "Deny",
            "Action": list(STATE_GUARDS),
            "Resource": [bucket_arn, f"{bucket_arn}/*"],
        },
        {"Sid": "StateKeyGuards", "Effect": "Deny", "Action": list(KEY_GUARDS), "Resource": key_arn},
    ]


def alerting_secrets(bootstrap: Bootstrap, role: Role) -> list[str]:
    return [
        s.alert_secret_name
        if s.alert_secret_name.startswith("arn:")
        else f"arn:{bootstrap.partition}:secretsmanager:{s.region}:{bootstrap.account}:secret:{s.alert_secret_name}-*"
        for s in role.stacks
        if s.alert_secret_name
    ]


def program_secrets(bootstrap: Bootstrap, role: Role) -> list[str]:
    """The secrets the program itself creates (``redisgw/<stack>/...``, e.g. the DR Redis password),
    in every region of the stack (replicas included)."""
    return [
        f"arn:{bootstrap.partition}:secretsmanager:{r}:{bootstrap.account}:secret:redisgw/{s.name}/*"
        for s in role.stacks
        for r in s.regions
    ]


def _secrets(bootstrap: Bootstrap, role: Role) -> list[dict[str, Any]]:
    arns = alerting_secrets(bootstrap, role)
    return [_statement("AlertingSecrets", PROGRAM_INVOKES, arns)] if arns else []


def _data_reads(bootstrap: Bootstrap, role: Role, bucket_arn: str, *, deploy: bool) -> dict[str, Any]:
    """Deny every data read outside what the role must read (``Get*`` would grant them all)."""
    own_state = [arn for s in role.stacks for arns in state_objects(bucket_arn, s.name).values() for arn in arns]
    readable = [*own_state, *alerting_secrets(bootstrap, role)]
    if deploy:
        # Its stack's secrets; the backups and their DR replicas that ops verify and readiness read:
        # the BackupVault ``backups`` (__main__.py) auto-names them backups-bucket-* and backups-replica-*.
        readable += program_secrets(bootstrap, role)
        readable += [f"arn:{bootstrap.partition}:s3:::{BACKUP_BUCKETS}"]
    return {"Sid": "NoOtherData", "Effect": "Deny", "Action": list(DATA_READS), "NotResource": readable}


def _reads(role: Role) -> list[dict[str, Any]]:
    services = sorted(
        {a.split(":", 1)[0] for actions in TYPE_ACTIONS.values() for a in actions} | set(READINESS_SERVICES)
    )
    services = [s for s in services if s not in ("backup-storage",)]
    return _regional("Read", (f"{s}:{verb}" for s in services for verb in READ_VERBS), role.regions)


def _iam(bootstrap: Bootstrap) -> list[dict[str, Any]]:
    p, account = bootstrap.partition, bootstrap.account
    iam_actions = {a for actions in TYPE_ACTIONS.values() for a in actions if a.startswith("iam:")}
    managed = iam_actions - {"iam:PassRole", "iam:CreateServiceLinkedRole"}
    return [
        _statement(
            "ProgramIam",
            managed,
            [f"arn:{p}:iam::{account}:{kind}/*" for kind in ("role", "policy", "oidc-provider")],
        ),
        _statement(
            "PassRolesToTheProgramsServices",
            ("iam:PassRole",),
            f"arn:{p}:iam::{account}:role/*",
            StringEquals={"iam:PassedToService": list(PASS_ROLE_SERVICES)},
        ),
        _statement(
            "ServiceLinkedRoles",
            ("iam:CreateServiceLinkedRole",),
            f"arn:{p}:iam::{account}:role/aws-service-role/*",
            StringEquals={"iam:AWSServiceName": list(SERVICE_LINKED_ROLES)},
        ),
    ]


def deploy_policy(bootstrap: Bootstrap, role: Role, *, bucket_arn: str, key_arn: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            *runner_statements(bootstrap, role),
            *_state(bootstrap, role, bucket_arn, key_arn, write=True),
            *_reads(role),
            *_regional("ProgramWrite", program_write_actions(), role.regions),
            *_iam(bootstrap),
            *_secrets(bootstrap, role),
            _data_reads(bootstrap, role, bucket_arn, deploy=True),
        ],
    }


def preview_policy(bootstrap: Bootstrap, role: Role, *, bucket_arn: str, key_arn: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            *runner_statements(bootstrap, role),
            *_state(bootstrap, role, bucket_arn, key_arn, write=False),
            *_reads(role),
            *_secrets(bootstrap, role),
            _data_reads(bootstrap, role, bucket_arn, deploy=False),
        ],
    }


MANAGED_POLICY_CHARACTERS = 6_144
"""IAM quota: one customer managed policy, in characters without whitespace (IAM user guide, "IAM
and AWS STS quotas"); a role holds at most 10 of them by default."""


SPLIT_MARGIN = 512
"""Room left in each part for the real ARNs being longer than the ones the grouping was made with."""


def _size(statements: list[Any]) -> int:
    return len(json.dumps({"Version": "2012-10-17", "Statement": statements}, separators=(",", ":")))


def grouping(document: Mapping[str, Any], limit: int = MANAGED_POLICY_CHARACTERS - SPLIT_MARGIN) -> list[list[int]]:
    """The statements' indexes packed, in order, into as few groups under ``limit`` as fit. Made once
    from a document with stand-in ARNs (their number must be known before the real ARNs are), then
    applied to the real one with :func:`parts`."""
    groups: list[list[int]] = []
    statements = list(document["Statement"])
    for index, statement in enumerate(statements):
        if groups and _size([*(statements[i] for i in groups[-1]), statement]) < limit:
            groups[-1].append(index)
        else:
            groups.append([index])
    return groups


def parts(document: Mapping[str, Any], groups: list[list[int]]) -> list[dict[str, Any]]:
    statements = list(document["Statement"])
    return [{"Version": document["Version"], "Statement": [statements[i] for i in group]} for group in groups]


def ops_image_policy(bootstrap: Bootstrap) -> dict[str, Any]:
    p, account = bootstrap.partition, bootstrap.account
    return {
        "Version": "2012-10-17",
        "Statement": [
            _statement("RegistryToken", ("ecr:GetAuthorizationToken",)),
            _statement(
                "PushToTheStacksOpsRepositories",
                (*ECR_PUSH, *ECR_PULL),
                [f"arn:{p}:ecr:{s.region}:{account}:repository/{s.ops_repository}" for s in bootstrap.stacks],
            ),
        ],
    }


def github_trust(bootstrap: Bootstrap, provider_arn: str) -> dict[str, Any]:
    """The ops-image job's web identity: this repository's ``main`` and ``v*`` tags only."""
    subjects = sorted(
        {f"repo:{repo}:ref:{ref}" for repo in bootstrap.repositories for ref in ("refs/heads/main", "refs/tags/v*")}
    )
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
                    "StringLike": {"token.actions.githubusercontent.com:sub": subjects},
                },
            }
        ],
    }


def codebuild_trust(bootstrap: Bootstrap, role: Role) -> dict[str, Any]:
    """Only the role's runner projects may use it (the confused-deputy conditions)."""
    projects = [
        f"arn:{bootstrap.partition}:codebuild:{s.region}:{bootstrap.account}:project/{s.project(role.purpose)}"
        for s in role.stacks
    ]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "codebuild.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": bootstrap.account},
                    "ArnLike": {"aws:SourceArn": projects},
                },
            }
        ],
    }
