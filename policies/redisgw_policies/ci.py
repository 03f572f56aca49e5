"""CI runners (CodeBuild projects): unprivileged, logged, in the VPC, no credentials in clear."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import Severity

from redisgw_policies._policy import SECRET_NAME, as_map, get, maps, resource_policy, truthy


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


POLICIES = [
    resource_policy(
        name="codebuild-project-require-hardening",
        description="CI runner projects are unprivileged, logged, in the VPC, with no credentials in clear.",
        types=("aws:codebuild/project:Project",),
        rule=project,
        severity=Severity.HIGH,
        remediation="Use the DeployRunner component: privileged_mode off, CloudWatch logs on, vpc_config set.",
    ),
]
