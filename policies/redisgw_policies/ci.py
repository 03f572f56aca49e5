"""The delivery pipeline's footprint in the plan: CI runners (CodeBuild projects) unprivileged, logged,
in the VPC, no credentials in clear; the ops image repository hardened; and every job running the
image the pipeline built, scanned and signed, from the stack's own repository, by digest."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pulumi_policy import PolicyResource, Severity, StackValidationArgs

from redisgw_policies._k8s import containers
from redisgw_policies._policy import (
    SECRET_NAME,
    Finding,
    as_map,
    get,
    k8s_kind,
    known_items,
    maps,
    of_type,
    policy_statements,
    principals,
    resource_policy,
    stack_policy,
    strings,
    truthy,
)

Findings = Iterator[tuple[str, str | None]]
REPOSITORY = "aws:ecr/repository:Repository"
LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
REPOSITORY_POLICY = "aws:ecr/repositoryPolicy:RepositoryPolicy"
ECR_IMAGE = re.compile(
    r"(?P<registry>\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?)/"
    r"(?P<repository>[a-z0-9][a-z0-9._/-]*?)(?::[\w][\w.-]{0,127})?(?:@(?P<digest>sha256:[a-f0-9]{64}))?"
)
"""An image in an ECR registry: registry host, repository, optional tag, optional digest."""
KMS_ARN = re.compile(r"arn:(?P<partition>aws[a-z-]*):kms:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):key/[\w-]+")
PUSH_ACTIONS = ("ecr:putimage", "ecr:initiatelayerupload", "ecr:uploadlayerpart", "ecr:completelayerupload")


def project(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    environment = as_map(props.get("environment"))
    if truthy(environment.get("privilegedMode")):
        yield "The project runs privileged (Docker-in-Docker has root on the build host)."
    for variable in maps(environment.get("environmentVariables")):
        if variable.get("type", "PLAINTEXT") == "PLAINTEXT" and SECRET_NAME.search(str(variable.get("name"))):
            name = variable.get("name")
            yield f"Environment variable {name} holds a credential in clear; use PARAMETER_STORE or SECRETS_MANAGER."
    for source in [as_map(props.get("source")), *maps(props.get("secondarySources"))]:
        if re.match(r"^https?://[^/@\s]+@", str(source.get("location") or "")):
            yield "A source location embeds credentials."
    cloudwatch = as_map(get(props, "logsConfig.cloudwatchLogs"))
    s3 = as_map(get(props, "logsConfig.s3Logs"))
    if cloudwatch.get("status") == "DISABLED" and s3.get("status") != "ENABLED":
        yield "The project keeps no build logs."
    if s3.get("status") == "ENABLED" and truthy(s3.get("encryptionDisabled")):
        yield "The project's S3 logs are not encrypted."
    if not get(props, "vpcConfig.vpcId"):
        yield "The project runs outside the VPC: it cannot reach a private cluster and egresses unfiltered."


def _known(props: Any) -> dict[str, Any]:
    """The properties of a resource the engine knows now (an output of a new resource is not)."""
    return {key: value for key, value, known in known_items(props) if known}


def _name(resource: PolicyResource) -> str:
    name = get(resource.props, "metadata.name")
    return name if isinstance(name, str) and name else resource.name


def batch_images(args: StackValidationArgs) -> Iterator[tuple[PolicyResource, str, str, Any]]:
    """(resource, kind, container, image) of every container a Job or CronJob runs, and of every
    Job an Argo Rollouts AnalysisTemplate starts (the smoke test)."""
    for r in args.resources:
        if not r.resource_type.startswith("kubernetes:"):
            continue
        kind = k8s_kind(r.resource_type)
        if kind in ("Job", "CronJob"):
            for c in containers(r.props):
                yield r, kind, c.name, c.spec.get("image")
        elif kind in ("AnalysisTemplate", "ClusterAnalysisTemplate"):
            for metric in maps(get(r.props, "spec.metrics")):
                job = as_map(get(metric, "provider.job"))
                if job:
                    for c in containers({"kind": "Job", "spec": as_map(job.get("spec"))}):
                        yield r, kind, c.name, c.spec.get("image")


def pinned_ops_image(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    """Jobs run the ops image from the stack's own ECR repository, pinned by digest.

    The stack's repositories are the ECR repositories it declares: their ``name`` (an input, known
    at every preview) in their registry, ``<account>.dkr.ecr.<region>.amazonaws.com``. The registry
    comes from ``repositoryUrl`` where the engine knows it (the state of an existing repository),
    else from the ARN of the repository's KMS key (ECR takes a key of its own region; the program
    creates it in the repository's account). Only on a first preview, before either exists, does the
    name alone decide."""
    names: set[str] = set()
    urls: set[str] = set()
    for repository in of_type(args, REPOSITORY):
        props = _known(repository.props)
        repository_names = strings(props.get("name"))
        names.update(repository_names)
        known_urls = strings(props.get("repositoryUrl"))
        for encryption in maps(props.get("encryptionConfigurations")) + maps(props.get("encryptionConfiguration")):
            key = KMS_ARN.fullmatch(str(_known(encryption).get("kmsKey") or ""))
            if key is not None and not known_urls:
                suffix = ".amazonaws.com.cn" if key["partition"] == "aws-cn" else ".amazonaws.com"
                known_urls = [f"{key['account']}.dkr.ecr.{key['region']}{suffix}/{n}" for n in repository_names]
        urls.update(known_urls)
    own = ", ".join(sorted(urls or names)) or "none declared"
    for resource, kind, container, image in batch_images(args):
        label = f"{kind} {_name(resource)} container {container}"
        if not isinstance(image, str) or not image:
            yield Finding(f"{label} names no image.", container=container), resource.urn
            continue
        match = ECR_IMAGE.fullmatch(image)
        if match is None:
            where = image.split("/", 1)[0] if "/" in image else "Docker Hub"
            yield (
                Finding(
                    f"{label} runs {image} from {where}, not from the stack's own ECR repository ({own}).",
                    container=container,
                ),
                resource.urn,
            )
            continue
        address = f"{match['registry']}/{match['repository']}"
        if match["repository"] not in names or (urls and address not in urls):
            yield (
                Finding(
                    f"{label} runs {image} from {address}, not from the stack's own ECR repository ({own}).",
                    container=container,
                ),
                resource.urn,
            )
        if match["digest"] is None:
            yield (
                Finding(
                    f"{label} runs {image} by tag, without a digest: pin the digest the pipeline pushed and signed.",
                    container=container,
                ),
                resource.urn,
            )


def ecr_repository(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    """ECR repositories: immutable tags, scan on push, a KMS key, a lifecycle policy, and a
    repository policy that grants no push and no anonymous access."""
    lifecycles = {name for r in of_type(args, LIFECYCLE) for name in strings(_known(r.props).get("repository"))}
    for repository in of_type(args, REPOSITORY):
        props = _known(repository.props)
        label = f"ECR repository {props.get('name') or repository.name}"
        if props.get("imageTagMutability") != "IMMUTABLE":
            yield f"{label} has mutable tags: a tag can be moved to other bytes after the scan.", repository.urn
        if not truthy(get(props, "imageScanningConfiguration.scanOnPush")):
            yield f"{label} does not scan images on push.", repository.urn
        encryption = maps(props.get("encryptionConfigurations")) + maps(props.get("encryptionConfiguration"))
        if not any(e.get("encryptionType") == "KMS" and e.get("kmsKey") for e in encryption):
            yield f"{label} is not encrypted with a customer-managed KMS key.", repository.urn
        if props.get("name") not in lifecycles:
            yield f"{label} has no lifecycle policy: images accumulate forever.", repository.urn
    for policy in of_type(args, REPOSITORY_POLICY):
        for statement in policy_statements(_known(policy.props).get("policy")):
            if statement.get("Effect") != "Allow":
                continue
            actions = [a.lower() for a in strings(statement.get("Action"))]
            if "*" in principals(statement):
                yield f"ECR repository policy {policy.name} grants access to everyone.", policy.urn
            if any(fnmatch.fnmatchcase(push, action) for action in actions for push in PUSH_ACTIONS):
                yield f"ECR repository policy {policy.name} grants push: only the pipeline's role pushes.", policy.urn


POLICIES = [
    resource_policy(
        name="codebuild-project-require-hardening",
        description="CI runner projects are unprivileged, logged, in the VPC, with no credentials in clear.",
        types=("aws:codebuild/project:Project",),
        rule=project,
        severity=Severity.HIGH,
        remediation="Use the DeployRunner component: privileged_mode off, CloudWatch logs on, vpc_config set.",
    ),
    stack_policy(
        name="k8s-job-require-pinned-ops-image",
        description=(
            "Jobs, CronJobs and analysis Jobs run the ops image from the stack's own ECR repository, by digest."
        ),
        rule=pinned_ops_image,
        severity=Severity.HIGH,
        remediation=(
            "Set redisgw:backup.opsImage to <opsImageRepositoryUrl>@sha256:<digest>, the image the pipeline "
            "pushed and signed (ops stack-set in the deploy job), and leave delivery.smokeImage unset."
        ),
        # The DR region's jobs pull from the primary's repository: judged with the whole stack.
        per_region=False,
    ),
    stack_policy(
        name="ecr-repository-require-hardening",
        description="ECR repositories: immutable tags, scan on push, KMS encryption, a lifecycle, no push grants.",
        rule=ecr_repository,
        severity=Severity.HIGH,
        remediation=(
            "Declare the repository as BackupVault does: image_tag_mutability IMMUTABLE, scan_on_push, a KMS "
            "encryption configuration, an aws.ecr.LifecyclePolicy, and a repository policy granting pull only."
        ),
    ),
]
