"""DeployRunner: GitHub Actions runners inside the stack's VPC, so CI reaches a private cluster.

`pulumi up` manages Kubernetes objects, so it must reach the cluster API, which is private. The
runners are CodeBuild-hosted GitHub Actions runners: a CodeBuild project per purpose, attached to
the VPC's private subnets, started by a webhook when GitHub queues a job whose ``runs-on`` is
``codebuild-<project>-<run id>-<attempt>``. Each job gets a fresh, ephemeral build container; no
runner fleet runs between jobs, no runner token is stored, and the job's AWS credentials are the
project's role (no keys in GitHub).

Two projects per stack:

* ``redisgw-<stack>-deploy``: the deploy role (cluster admin through an EKS access entry); its
  webhook accepts only jobs of the ``deploy`` workflow on the stack's ref (``main`` for staging,
  ``v*`` tags for production).
* ``redisgw-<stack>-preview``: the read-only preview role (``AmazonEKSViewPolicy``); its webhook
  accepts only jobs of the ``pull-request`` workflow.

The roles themselves are created once per account by the bootstrap (README, "First deployment"):
they need more than this stack may grant itself, and they must exist before the first run. The
runners reach the API server through the cluster security group (443 from the runner group only)
and the internet through the NAT gateways (GitHub, registries, AWS APIs); nothing connects to them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components._shared import encryption_key

DEPLOY_WORKFLOW = "deploy"
PREVIEW_WORKFLOW = "pull-request"


@dataclass(frozen=True, kw_only=True)
class DeployRunnerArgs:
    """Inputs of :class:`DeployRunner`."""

    stack: str
    """Stack name: the projects are ``redisgw-<stack>-deploy`` and ``redisgw-<stack>-preview``."""
    repository: str
    """GitHub repository, ``owner/name``."""
    deploy_ref: str
    """Regular expression of the refs the deploy runner serves (``^refs/heads/main$``, ``^refs/tags/v.*``)."""
    deploy_role_arn: str
    preview_role_arn: str
    region: str
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[list[str]]
    """Private subnets (egress through NAT)."""
    cluster_security_group_id: pulumi.Input[str]
    compute_type: str = "BUILD_GENERAL1_MEDIUM"
    image: str = "aws/codebuild/standard:7.0"
    """Ubuntu image: apt-get works for the jobs' peers (redis-tools)."""
    log_retention_days: int = 365
    protect: bool = True
    """Pulumi ``protect`` on the log key (deleting it would make the runner logs unreadable)."""


class DeployRunner(pulumi.ComponentResource):
    """CodeBuild-hosted GitHub Actions runners for one stack, in its VPC."""

    deploy_project: pulumi.Output[str]
    """Runner label prefix of deploy jobs: ``codebuild-<this>-${{ github.run_id }}-${{ github.run_attempt }}``."""
    preview_project: pulumi.Output[str]
    security_group_id: pulumi.Output[str]

    def __init__(self, name: str, args: DeployRunnerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("redisgw:index:DeployRunner", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            vpc_id=args.vpc_id,
            description=f"CI runners of {args.stack}: no inbound, HTTPS and HTTP out",
            egress=[
                aws.ec2.SecurityGroupEgressArgs(
                    protocol="tcp", from_port=port, to_port=port, cidr_blocks=["0.0.0.0/0"], description=what
                )
                for port, what in ((443, "GitHub, registries, AWS and the cluster API"), (80, "package mirrors"))
            ],
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-to-cluster-api",
            security_group_id=args.cluster_security_group_id,
            referenced_security_group_id=group.id,
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            description="CI runners to the Kubernetes API",
            opts=child,
        )
        key = encryption_key(
            f"{name}-logs",
            description=f"Encrypts the CI runner logs of {args.stack}",
            region=args.region,
            service_principals=("logs",),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        projects = {}
        for purpose, role, workflow, ref in (
            ("deploy", args.deploy_role_arn, DEPLOY_WORKFLOW, args.deploy_ref),
            ("preview", args.preview_role_arn, PREVIEW_WORKFLOW, None),
        ):
            project_name = f"redisgw-{args.stack}-{purpose}"
            logs = aws.cloudwatch.LogGroup(
                f"{name}-{purpose}-logs",
                name=f"/aws/codebuild/{project_name}",
                retention_in_days=args.log_retention_days,
                kms_key_id=key.arn,
                opts=child,
            )
            project = aws.codebuild.Project(
                f"{name}-{purpose}",
                name=project_name,
                description=f"GitHub Actions runner ({purpose}) for the {args.stack} stack, in its VPC",
                service_role=role,
                build_timeout=120,
                encryption_key=key.arn,
                source=aws.codebuild.ProjectSourceArgs(
                    type="GITHUB", location=f"https://github.com/{args.repository}.git", git_clone_depth=1
                ),
                artifacts=aws.codebuild.ProjectArtifactsArgs(type="NO_ARTIFACTS"),
                environment=aws.codebuild.ProjectEnvironmentArgs(
                    type="LINUX_CONTAINER",
                    compute_type=args.compute_type,
                    image=args.image,
                    image_pull_credentials_type="CODEBUILD",
                    privileged_mode=False,
                ),
                vpc_config=aws.codebuild.ProjectVpcConfigArgs(
                    vpc_id=args.vpc_id, subnets=args.subnet_ids, security_group_ids=[group.id]
                ),
                logs_config=aws.codebuild.ProjectLogsConfigArgs(
                    cloudwatch_logs=aws.codebuild.ProjectLogsConfigCloudwatchLogsArgs(
                        status="ENABLED", group_name=logs.name
                    ),
                    s3_logs=aws.codebuild.ProjectLogsConfigS3LogsArgs(status="DISABLED"),
                ),
                opts=child,
            )
            filters = [
                aws.codebuild.WebhookFilterGroupFilterArgs(type="EVENT", pattern="WORKFLOW_JOB_QUEUED"),
                aws.codebuild.WebhookFilterGroupFilterArgs(type="WORKFLOW_NAME", pattern=f"^{workflow}$"),
            ]
            if ref is not None:
                filters.append(aws.codebuild.WebhookFilterGroupFilterArgs(type="HEAD_REF", pattern=ref))
            aws.codebuild.Webhook(
                f"{name}-{purpose}",
                project_name=project.name,
                build_type="BUILD",
                filter_groups=[aws.codebuild.WebhookFilterGroupArgs(filters=filters)],
                opts=child,
            )
            projects[purpose] = project

        self.deploy_project = projects["deploy"].name
        self.preview_project = projects["preview"].name
        self.security_group_id = group.id
        self.register_outputs(
            {
                "deploy_project": self.deploy_project,
                "preview_project": self.preview_project,
                "security_group_id": self.security_group_id,
            }
        )
