"""The bootstrap project: previewed offline and judged by the pack; its roles cover what CI calls.

What the roles must cover is derived, never restated: the AWS resource types of both stacks' plans
(and ``pulumi_eks.Cluster``'s children), the program's reads, every ``aws`` command and Pulumi step
of the workflows, per job and the role that job runs as. What ``ops verify`` and ``ops readiness``
call is recorded under moto in ``tests/test_readiness_aws.py``.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from bootstrap import ci_policies
from bootstrap.config import KEYS, NAMESPACE, Bootstrap, BootstrapError, Role, load
from ops.cli import main
from ops.errors import OpsError
from ops.offline import preview
from ops.offline.engine import ROOT, run_program
from tests.conftest import Recording
from tests.iam_eval import allowed

BUCKET = "arn:aws:s3:::pulumi-state-0a1b2c3"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/0a1b2c3d-0000-4000-8000-000000000000"
ACCOUNT = "123456789012"
MANAGED_POLICY_CHARACTERS = 6_144
"""IAM quota: one customer managed policy, in characters without whitespace (IAM user guide, "IAM and
AWS STS quotas"), restated here so that a change of the code's constant does not pass unnoticed."""


@pytest.fixture(scope="module")
def cfg() -> Bootstrap:
    stacks = yaml.safe_load((ROOT / "bootstrap" / "Pulumi.production.yaml").read_text())["config"][
        "redisgw-bootstrap:stacks"
    ]
    return load({"stacks": stacks}, root=ROOT, region="eu-west-1")


def _document(cfg: Bootstrap, role: Role) -> dict[str, Any]:
    build = ci_policies.deploy_policy if role.purpose == "deploy" else ci_policies.preview_policy
    return build(cfg, role, bucket_arn=BUCKET, key_arn=KEY)


def _role(cfg: Bootstrap, purpose: str, stack: str = "production") -> Role:
    (role,) = [r for r in cfg.roles if r.purpose == purpose and r.stacks[0].name == stack]
    return role


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bootstrap") / "report.json"
    code = preview.run("production", str(out), Console(file=open("/dev/null", "w")), project="bootstrap")  # noqa: SIM115
    report = json.loads(out.read_text())
    report["exit"] = code
    return report


def test_the_bootstrap_previews_offline_with_no_mandatory_violation(report: dict[str, Any]) -> None:
    assert report["exit"] == 0, [v["message"] for v in report["policies"]["violations"]]
    types = {r["type"] for r in report["resources"]}
    assert {
        "aws:s3/bucket:Bucket",
        "aws:kms/key:Key",
        "aws:kms/alias:Alias",
        "aws:iam/role:Role",
        "aws:iam/policy:Policy",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
        "aws:codeconnections/connection:Connection",
        "aws:secretsmanager/secret:Secret",
    } <= types
    assert not [r for r in report["resources"] if r["type"] == "aws:secretsmanager/secretVersion:SecretVersion"]
    assert all(r["urn"].startswith("urn:pulumi:production::redisgw-bootstrap::") for r in report["resources"])
    # The pack judged it with every policy mandatory but the program-only invariants.
    levels = {p["policy"]: p["enforcement"] for p in report["policies"]["evaluated"]}
    disabled = {n for n, level in levels.items() if level == "disabled"}
    assert disabled == {
        "monitoring-stack-require-prometheus-grafana-alertmanager",
        "k8s-backup-require-cronjob-and-storage",
        "dr-require-warm-standby",
    }
    assert set(levels.values()) == {"mandatory", "disabled"}


def test_the_state_bucket_is_versioned_encrypted_tls_only_private_and_protected(report: dict[str, Any]) -> None:
    by_type: dict[str, list[dict[str, Any]]] = {}
    for r in report["resources"]:
        by_type.setdefault(r["type"], []).append(r)
    (bucket,) = [r for r in by_type["aws:s3/bucket:Bucket"] if r["name"] == "pulumi-state"]
    assert bucket["inputs"]["forceDestroy"] is False
    (versioning,) = by_type["aws:s3/bucketVersioning:BucketVersioning"]
    assert versioning["inputs"]["versioningConfiguration"]["status"] == "Enabled"
    (sse,) = by_type["aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"]
    assert sse["inputs"]["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    (block,) = by_type["aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"]
    assert all(block["inputs"][k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls"))
    (policy,) = by_type["aws:s3/bucketPolicy:BucketPolicy"]
    statements = json.loads(policy["inputs"]["policy"])["Statement"]
    assert any(s["Effect"] == "Deny" and "aws:SecureTransport" in json.dumps(s) for s in statements)
    (alias,) = by_type["aws:kms/alias:Alias"]
    assert alias["inputs"]["name"] == "alias/pulumi-redisgw"  # the README's awskms:// secrets provider


def test_roles_and_secrets_are_the_ones_the_served_stacks_name(
    cfg: Bootstrap, report: dict[str, Any], stack_run: Callable[[str], Recording]
) -> None:
    roles = {r["inputs"]["name"] for r in report["resources"] if r["type"] == "aws:iam/role:Role"}
    secrets = {r["inputs"]["name"] for r in report["resources"] if r["type"] == "aws:secretsmanager/secret:Secret"}
    runners: set[str] = set()
    for stack in ("staging", "production"):
        values = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
        runner = values["redisgw:delivery"]["runner"]
        assert {runner["deployRoleArn"].rsplit("/", 1)[1], runner["previewRoleArn"].rsplit("/", 1)[1]} <= roles
        assert values["redisgw:monitoring"]["alertSecretName"] in secrets
        runners |= {p.inputs["name"] for p in stack_run(stack).of_type("aws:codebuild/project:Project")}
    # Each role trusts exactly the runner projects the program creates for it.
    trusted = set()
    for role in cfg.roles:
        trust = ci_policies.codebuild_trust(cfg, role)["Statement"][0]["Condition"]
        trusted |= {arn.rsplit("/", 1)[1] for arn in trust["ArnLike"]["aws:SourceArn"]}
        assert trust["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
    assert trusted == runners


# -- what CI calls, and whether the role of each job allows it ----------------------------------


def _iam_resource(action: str) -> tuple[str, dict[str, str]]:
    """A representative resource and request context of an IAM action the program's types need."""
    if action == "iam:PassRole":
        return f"arn:aws:iam::{ACCOUNT}:role/primary-nodes-1a2b3c", {"iam:PassedToService": "eks.amazonaws.com"}
    if action == "iam:CreateServiceLinkedRole":
        return f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/eks.amazonaws.com/AWSServiceRoleForAmazonEKS", {
            "iam:AWSServiceName": "eks.amazonaws.com"
        }
    if "OpenIDConnect" in action:
        return f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC", {}
    return f"arn:aws:iam::{ACCOUNT}:role/primary-nodes-1a2b3c", {}


def test_the_deploy_role_manages_every_type_of_both_plans_in_every_region(
    cfg: Bootstrap, stack_run: Callable[[str], Recording]
) -> None:
    types = set(ci_policies.PULUMI_EKS_CHILDREN)
    for stack in ("staging", "production"):
        types |= {r.type for r in stack_run(stack) if r.custom and r.type.startswith("aws:")}
    missing = sorted(types - set(ci_policies.TYPE_ACTIONS))
    assert not missing, f"types the program creates with no entry in bootstrap/ci_policies.TYPE_ACTIONS: {missing}"
    unused = sorted(set(ci_policies.TYPE_ACTIONS) - types)
    assert not unused, f"entries for types the program does not create (least privilege): {unused}"
    role = _role(cfg, "deploy")
    document = _document(cfg, role)
    refused = []
    for typ in sorted(types):
        for action in ci_policies.TYPE_ACTIONS[typ]:
            if action.startswith("iam:"):
                resource, context = _iam_resource(action)
                checks = [(resource, context)]
            else:
                checks = [("*", {"aws:RequestedRegion": r}) for r in role.regions]
            refused += [f"{typ}: {action} {c}" for res, c in checks if not allowed(document, action, res, **c)]
        service = ci_policies.TYPE_ACTIONS[typ][0].split(":")[0]
        if service not in ci_policies.GLOBAL_SERVICES:
            for verb in ("Describe", "Get", "List"):
                if not allowed(document, f"{service}:{verb}Something", "*", **{"aws:RequestedRegion": role.regions[0]}):
                    refused.append(f"{typ}: no {verb}* on {service}")
    assert not refused, refused
    # Nothing outside the stacks' regions; no role passed to a service the program does not use.
    assert not allowed(document, "ec2:CreateVpc", "*", **{"aws:RequestedRegion": "us-west-2"})
    assert not allowed(
        document, "iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/x", **{"iam:PassedToService": "lambda.amazonaws.com"}
    )
    assert not allowed(document, "iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/x")
    assert not allowed(document, "iam:CreateAccessKey", f"arn:aws:iam::{ACCOUNT}:user/x")


def test_both_runner_roles_can_start_in_the_vpc_log_and_use_the_connection(cfg: Bootstrap) -> None:
    for role in cfg.roles:
        document = _document(cfg, role)
        for stack in role.stacks:
            region = {"aws:RequestedRegion": stack.region}
            for action in ("ec2:CreateNetworkInterface", "ec2:DescribeDhcpOptions", "ec2:DeleteNetworkInterface"):
                assert allowed(document, action, "*", **region), (role.name, action)
            eni = f"arn:aws:ec2:{stack.region}:{ACCOUNT}:network-interface/eni-0a1b"
            subnet = f"arn:aws:ec2:{stack.region}:{ACCOUNT}:subnet/subnet-0a1b"
            assert allowed(
                document,
                "ec2:CreateNetworkInterfacePermission",
                eni,
                **{"ec2:AuthorizedService": "codebuild.amazonaws.com", "ec2:Subnet": subnet},
            )
            assert not allowed(
                document,
                "ec2:CreateNetworkInterfacePermission",
                eni,
                **{"ec2:AuthorizedService": "lambda.amazonaws.com", "ec2:Subnet": subnet},
            )
            group = f"/aws/codebuild/{stack.project(role.purpose)}"
            log = f"arn:aws:logs:{stack.region}:{ACCOUNT}:log-group:{group}:log-stream:x"
            assert allowed(document, "logs:PutLogEvents", log) and allowed(document, "logs:CreateLogStream", log)
            connection = f"arn:aws:codeconnections:{stack.region}:{ACCOUNT}:connection/0a1b"
            assert allowed(document, "codeconnections:GetConnectionToken", connection)


_AWS_CUSTOM = {
    ("ecr", "get-login-password"): ["ecr:GetAuthorizationToken"],
    ("eks", "update-kubeconfig"): ["eks:DescribeCluster"],
    ("sts", "get-caller-identity"): [],  # needs no permission (IAM user guide, GetCallerIdentity)
}
"""The AWS CLI's own commands (awscli ``customizations``) and the API each calls."""


def _aws_actions(command: list[str]) -> list[str]:
    import botocore.session

    service, operation = command[1], command[2]
    if (service, operation) in _AWS_CUSTOM:
        return _AWS_CUSTOM[(service, operation)]
    model = botocore.session.get_session().get_service_model(service)
    names = {re.sub(r"(?<!^)(?=[A-Z])", "-", op).lower(): op for op in model.operation_names}
    return [f"{model.signing_name}:{names[operation]}"]


def _calls(job: dict[str, Any]) -> list[tuple[str, str]]:
    """(step name, the IAM action it needs) for every AWS call a job's steps make."""
    calls = []
    for step in job["steps"]:
        name = step.get("name", step.get("uses", ""))
        script = step.get("run", "")
        for line in script.replace("\\\n", " ").splitlines():
            for part in re.split(r"\||&&|;|\$\(", line):
                try:
                    words = shlex.split(part.replace(")", " "), comments=True)
                except ValueError:  # a quote that spans a pipe: the words are enough to find the command
                    words = part.split()
                if len(words) >= 3 and words[0] == "aws":
                    calls += [(name, a) for a in _aws_actions(words)]
                if words[:2] == ["docker", "push"]:
                    calls += [(name, a) for a in ci_policies.ECR_PUSH]
                if words[:1] == ["cosign"] and len(words) > 1:
                    pushes = ci_policies.ECR_PUSH if words[1] in ("sign", "attest") else ()
                    calls += [(name, a) for a in (*pushes, *ci_policies.ECR_PULL)]
                if words[:3] == ["pulumi", "stack", "export"]:
                    calls += [(name, a) for a in (*ci_policies.STATE_OBJECT_READ, "s3:ListBucket", "kms:Decrypt")]
        if str(step.get("uses", "")).startswith("pulumi/actions@") and step.get("with", {}).get("command"):
            write = step["with"]["command"] == "up"
            state = (*ci_policies.STATE_OBJECT_READ, "s3:ListBucket", "kms:Decrypt", "s3:PutObject")
            calls += [(name, a) for a in (*state, *(("kms:Encrypt",) if write else ()))]
    return calls


def _resource(action: str, cfg: Bootstrap, stack: str, *, lock: bool = False) -> str:
    service = action.split(":")[0]
    if service == "s3":
        if action == "s3:ListBucket":
            return BUCKET
        if lock:
            return f"{BUCKET}/.pulumi/locks/organization/redisgw/{stack}/0a1b2c3d.json"
        return f"{BUCKET}/.pulumi/stacks/redisgw/{stack}.json"
    if service == "kms":
        return KEY
    if service == "ecr" and action != "ecr:GetAuthorizationToken":
        served = next(s for s in cfg.stacks if s.name == stack)
        return f"arn:aws:ecr:{served.region}:{ACCOUNT}:repository/{served.ops_repository}"
    if service == "eks":
        return f"arn:aws:eks:eu-west-1:{ACCOUNT}:cluster/redisgw-{stack}"
    return "*"


def _jobs(workflow: str) -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / ".github" / "workflows" / workflow).read_text())["jobs"])


def test_every_aws_call_of_the_deploy_and_preview_jobs_is_allowed_to_their_runner_role(cfg: Bootstrap) -> None:
    checked = 0
    for workflow, job_name, purpose, stack in (
        ("deploy.yml", "staging", "deploy", "staging"),
        ("deploy.yml", "production", "deploy", "production"),
        ("pull-request.yml", "pulumi-preview", "preview", "staging"),
        ("pull-request.yml", "pulumi-preview", "preview", "production"),
    ):
        job = _jobs(workflow)[job_name]
        assert (
            f"codebuild-redisgw-{stack if job_name != 'pulumi-preview' else '${{ matrix.stack }}'}-{purpose}-"
            in (job["runs-on"])
        )
        document = _document(cfg, _role(cfg, purpose, stack))
        calls = _calls(job)
        assert calls, f"{workflow} {job_name}: no AWS call found (the parser missed them)"
        for step, action in calls:
            region = {"aws:RequestedRegion": "eu-west-1"}
            lock = purpose == "preview" and action == "s3:PutObject"  # a preview writes its lock file only
            resource = _resource(action, cfg, stack, lock=lock)
            assert allowed(document, action, resource, **region), (job_name, step, action)
            checked += 1
    assert checked >= 15


def test_the_ops_image_job_can_push_to_its_stacks_repository_only(cfg: Bootstrap) -> None:
    job = _jobs("deploy.yml")["ops-image"]
    document = ci_policies.ops_image_policy(cfg)
    calls = _calls(job)
    assert {a for _, a in calls} >= {"ecr:GetAuthorizationToken", *ci_policies.ECR_PUSH, "ecr:GetDownloadUrlForLayer"}
    for stack in cfg.stacks:
        for _, action in calls:
            assert allowed(document, action, _resource(action, cfg, stack.name)), (stack.name, action)
    other = f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/someone-else"
    assert not allowed(document, "ecr:PutImage", other)
    trust = ci_policies.github_trust(cfg, f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com")
    condition = trust["Statement"][0]["Condition"]
    subjects = condition["StringLike"]["token.actions.githubusercontent.com:sub"]
    assert condition["StringEquals"] == {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}
    assert all(re.fullmatch(r"repo:[\w.-]+/[\w.-]+:ref:refs/(heads/main|tags/v\*)", s) for s in subjects), subjects


REGION = {"aws:RequestedRegion": "eu-west-1"}
STATE = f"{BUCKET}/.pulumi/stacks/redisgw/production.json"


def test_the_preview_role_reads_but_cannot_write_the_state_nor_read_data(cfg: Bootstrap) -> None:
    document = _document(cfg, _role(cfg, "preview"))
    assert allowed(document, "s3:GetObject", STATE, **REGION)
    assert allowed(document, "s3:PutObject", f"{BUCKET}/.pulumi/locks/organization/redisgw/production/1.json", **REGION)
    assert not allowed(document, "s3:PutObject", STATE, **REGION)
    assert not allowed(document, "s3:DeleteObjectVersion", STATE, **REGION)
    assert not allowed(document, "kms:Encrypt", KEY, **REGION)
    assert not allowed(document, "s3:GetObject", "arn:aws:s3:::backups-bucket-1a2b/redis/2026/manifest.json", **REGION)
    assert not allowed(document, "ec2:CreateVpc", "*", **REGION)
    assert allowed(document, "ec2:DescribeVpcs", "*", **REGION)
    for data in ("ec2:GetConsoleOutput", "logs:GetLogEvents", "ecr:GetDownloadUrlForLayer"):
        assert not allowed(document, data, "*", **REGION), data


def test_each_stacks_roles_keep_to_that_stack(cfg: Bootstrap) -> None:
    """A push to main runs as staging's deploy role: it can neither write nor read production's state."""
    staging = _document(cfg, _role(cfg, "deploy", "staging"))
    assert allowed(staging, "s3:PutObject", f"{BUCKET}/.pulumi/stacks/redisgw/staging.json", **REGION)
    assert allowed(staging, "s3:PutObject", f"{BUCKET}/.pulumi/history/redisgw/staging/staging-1.history.json")
    assert not allowed(staging, "s3:PutObject", STATE, **REGION)
    assert not allowed(staging, "s3:GetObject", STATE, **REGION)
    assert not allowed(staging, "s3:GetObject", f"{BUCKET}/.pulumi/stacks/redisgw-bootstrap/production.json")


def test_no_ci_role_can_undo_the_states_protection(cfg: Bootstrap) -> None:
    for role in cfg.roles:
        document = _document(cfg, role)
        for action in ci_policies.STATE_GUARDS:
            for resource in (BUCKET, STATE):
                assert not allowed(document, action, resource, **REGION), (role.name, action)
        for action in ci_policies.KEY_GUARDS:
            assert not allowed(document, action, KEY, **REGION), (role.name, action)
    # ...while the deploy role still manages the program's own buckets and keys.
    deploy = _document(cfg, _role(cfg, "deploy"))
    assert allowed(deploy, "s3:PutBucketPolicy", "arn:aws:s3:::backups-bucket-1a2b", **REGION)
    assert allowed(deploy, "kms:PutKeyPolicy", "arn:aws:kms:eu-west-1:123456789012:key/other", **REGION)


def test_the_program_can_read_its_alerting_secrets_and_no_other(cfg: Bootstrap) -> None:
    for role in cfg.roles:
        document = _document(cfg, role)
        for stack in role.stacks:
            region = {"aws:RequestedRegion": stack.region}
            arn = f"arn:aws:secretsmanager:{stack.region}:{ACCOUNT}:secret:{stack.alert_secret_name}-AbCdEf"
            assert allowed(document, "secretsmanager:GetSecretValue", arn, **region)
            other = f"arn:aws:secretsmanager:{stack.region}:{ACCOUNT}:secret:prod/db-password-AbCdEf"
            assert not allowed(document, "secretsmanager:GetSecretValue", other, **region), role.name
            own = f"arn:aws:secretsmanager:{stack.region}:{ACCOUNT}:secret:redisgw/{stack.name}/redis-auth-AbCdEf"
            assert allowed(document, "secretsmanager:GetSecretValue", own, **region) is (role.purpose == "deploy")


def test_the_role_policies_fit_iams_quotas_and_grant_no_service_wildcard(cfg: Bootstrap) -> None:
    """Grouped with stand-in ARNs, applied to longer real ones: every part stays under the managed
    policy quota, and a role holds at most the default 10 managed policies."""
    for role in cfg.roles:
        sample = ci_policies.deploy_policy if role.purpose == "deploy" else ci_policies.preview_policy
        groups = ci_policies.grouping(sample(cfg, role, bucket_arn="arn:aws:s3:::pulumi-state-0000000", key_arn=KEY))
        longer = sample(
            cfg, role, bucket_arn="arn:aws:s3:::pulumi-state-0000000-and-60-more-characters-" + "x" * 40, key_arn=KEY
        )
        pieces = ci_policies.parts(longer, groups)
        assert 1 <= len(pieces) <= 10
        assert [s for p in pieces for s in p["Statement"]] == longer["Statement"]
        for piece in pieces:
            assert len(json.dumps(piece, separators=(",", ":"))) < MANAGED_POLICY_CHARACTERS, role.name
        actions = [a for s in longer["Statement"] for a in s.get("Action", [])]
        assert not [a for a in actions if a == "*" or a.endswith(":*")]


# -- bad input ------------------------------------------------------------------------------------


def _write_stack(root: Path, name: str, **changes: Any) -> None:
    values = yaml.safe_load((ROOT / "Pulumi.production.yaml").read_text())
    for key, value in changes.items():
        values["config"][key] = value
    (root / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump(values))


@pytest.mark.parametrize(
    ("values", "files", "message"),
    [
        ({}, {}, "redisgw-bootstrap:stacks must list the stacks"),
        ({"stacks": "production"}, {}, "redisgw-bootstrap:stacks must list the stacks"),
        ({"stacks": ["nope"]}, {}, "Pulumi.nope.yaml cannot be read"),
        (
            {"stack": ["staging"], "stacks": ["production"]},
            {"production": {}},
            "redisgw-bootstrap config: redisgw-bootstrap:stack: unknown key (did you mean redisgw-bootstrap:stacks?)",
        ),
        ({"stacks": ["production"], "regions": ["eu-west-1"]}, {"production": {}}, "regions: unknown key (known: "),
        (
            {"stacks": ["production", "staging", "production"]},
            {"production": {}, "staging": {}},
            "redisgw-bootstrap:stacks: production listed more than once",
        ),
        ({"stacks": ["production"], "stateRetentionDays": 0}, {"production": {}}, "stateRetentionDays"),
        ({"stacks": ["production"], "githubOidcProviderArn": "arn:x"}, {"production": {}}, "githubOidcProviderArn"),
        (
            {"stacks": ["production"]},
            {"production": {"redisgw:network": {"cidr": "8.8.0.0/16"}}},
            "redisgw-bootstrap:stacks: production:",
        ),
        (
            {"stacks": ["production", "copy"]},
            {"production": {}, "copy": {}},
            "role github-actions-deploy-production is the runner role of production deploy and copy deploy",
        ),
        (
            {"stacks": ["production", "other"]},
            {
                "production": {},
                "other": {
                    "redisgw:cluster": {
                        **yaml.safe_load((ROOT / "Pulumi.production.yaml").read_text())["config"]["redisgw:cluster"],
                        "adminRoleArns": ["arn:aws:iam::210987654321:role/d"],
                    },
                    "redisgw:delivery": {
                        "runner": {
                            "repository": "o/r",
                            "deployRoleArn": "arn:aws:iam::210987654321:role/d",
                            "previewRoleArn": "arn:aws:iam::210987654321:role/p",
                            "deployRef": "^refs/heads/main$",
                        }
                    },
                },
            },
            "one bootstrap stack serves one account",
        ),
    ],
)
def test_bad_bootstrap_input_names_the_key_and_the_file(
    tmp_path: Path, values: dict[str, Any], files: dict[str, dict[str, Any]], message: str
) -> None:
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())  # the program's project
    for name, changes in files.items():
        _write_stack(tmp_path, name, **changes)
    with pytest.raises(BootstrapError) as err:
        load(values, root=tmp_path, region="eu-west-1")
    assert message in str(err.value)


def test_values_as_pulumi_config_set_writes_them_are_read(tmp_path: Path) -> None:
    """`pulumi config set redisgw-bootstrap:githubConnectionReady true` writes the string "true"
    (pulumi/pulumi sdk/go/common/resource/config/value.go: an untyped value is kept as a string); the
    CLI accepts it for a boolean declaration, and so must the bootstrap."""
    cfg = load(
        {"stacks": ["production"], "githubConnectionReady": "true", "stateRetentionDays": "30"},
        root=ROOT,
        region="eu-west-1",
    )
    assert cfg.github_connection_ready is True and cfg.state_retention_days == 30
    variant = tmp_path / "Pulumi.production.yaml"
    variant.write_text(
        "config:\n  aws:region: eu-west-1\n  redisgw-bootstrap:stacks: [production]\n"
        '  redisgw-bootstrap:githubConnectionReady: "true"\n'
    )
    out = tmp_path / "report.json"
    console = Console(file=open("/dev/null", "w"))  # noqa: SIM115
    assert preview.run("production", str(out), console, variant, project="bootstrap") == 0
    types = {r["type"] for r in json.loads(out.read_text())["resources"]}
    assert "aws:codebuild/sourceCredential:SourceCredential" in types  # the handshake done: the credential follows
    with pytest.raises(BootstrapError, match="githubConnectionReady must be true or false"):
        load({"stacks": ["production"], "githubConnectionReady": "yes"}, root=ROOT, region="eu-west-1")


def test_a_bootstrap_in_another_region_than_its_stacks_is_refused() -> None:
    with pytest.raises(BootstrapError) as err:
        load({"stacks": ["production"]}, root=ROOT, region="us-east-1")
    assert "aws:region is us-east-1 but the served stacks production (eu-west-1) are not" in str(err.value)


def test_a_bad_bootstrap_stack_file_is_exit_2_through_the_preview(tmp_path: Path) -> None:
    variant = tmp_path / "Pulumi.production.yaml"
    variant.write_text("config:\n  aws:region: eu-west-1\n  redisgw-bootstrap:stacks: [nope]\n")
    with pytest.raises(OpsError) as err:
        preview.run("production", None, Console(file=open("/dev/null", "w")), variant, project="bootstrap")  # noqa: SIM115
    assert err.value.code == 2 and "Pulumi.nope.yaml" in str(err.value)


def test_the_bootstrap_keys_are_those_its_project_declares() -> None:
    declared = yaml.safe_load((ROOT / "bootstrap" / "Pulumi.yaml").read_text())["config"]
    assert {f"{NAMESPACE}:{key}" for key in KEYS} == set(declared)


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("redisgw-bootstrap:stack: [staging]", "redisgw-bootstrap:stack: unknown key (did you mean"),
        ("redisgw-bootstrap:statRetentionDays: 30", "redisgw-bootstrap:statRetentionDays: unknown key (did you mean"),
    ],
    ids=["stack", "statRetentionDays"],
)
def test_an_unknown_bootstrap_key_is_exit_2_naming_the_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, says: str
) -> None:
    """A key of the bootstrap's namespace its project does not declare: the Pulumi CLI passes it to
    the program without a word (it checks only declared keys: pulumi/pulumi v3.259
    ``pkg/workspace/config.go`` ``ValidateStackConfigAndApplyProjectConfig``)."""
    committed = (ROOT / "bootstrap" / "Pulumi.production.yaml").read_text()
    variant = tmp_path / "variant.yaml"
    variant.write_text(committed + f"  {line}\n")
    assert main(["preview", "--project", "bootstrap", "--stack", "production", "--config", str(variant)]) == 2
    err = capsys.readouterr().err.strip()
    assert f"bootstrap/variant.yaml: {says}" in err and err.splitlines() == [err] and "Traceback" not in err
    # The program itself refuses it too, as `pulumi up` runs it (with every key of its namespace).
    config = {"aws:region": "eu-west-1", "redisgw-bootstrap:stacks": '["production"]'}
    key, _, value = line.partition(": ")
    with pytest.raises(BootstrapError, match=f"{key}: unknown key"):
        run_program(
            ROOT / "bootstrap" / "__main__.py",
            stack="production",
            config={**config, key: value},
            region="eu-west-1",
            project="redisgw-bootstrap",
        )


def test_a_stack_listed_twice_is_exit_2_through_the_preview(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    variant = tmp_path / "Pulumi.production.yaml"
    variant.write_text("config:\n  aws:region: eu-west-1\n  redisgw-bootstrap:stacks: [production, production]\n")
    assert main(["preview", "--project", "bootstrap", "--stack", "production", "--config", str(variant)]) == 2
    err = capsys.readouterr().err.strip()
    assert "bootstrap/Pulumi.production.yaml: redisgw-bootstrap:stacks: production listed more than once" in err
    assert err.splitlines() == [err]
