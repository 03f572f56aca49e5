"""Realistic outputs for Pulumi's mock runtime.

The offline engine and the tests run the real program under :func:`pulumi.runtime.set_mocks`. What
the mocks return decides which Output-dependent code paths run, so they answer as AWS and the
providers would: IDs with the right prefixes, ARNs in the right partition, region and account, an
EKS kubeconfig and OIDC issuer, Helm release status. Values are derived from the logical name, so
reports are stable from run to run. An invoke the mocks do not know fails loudly with its token.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import pulumi

ACCOUNT_ID = "123456789012"
"""Account the mock AWS answers for."""

_ID_PREFIXES = {
    "aws:ec2/vpc:Vpc": "vpc",
    "aws:ec2/subnet:Subnet": "subnet",
    "aws:ec2/internetGateway:InternetGateway": "igw",
    "aws:ec2/natGateway:NatGateway": "nat",
    "aws:ec2/routeTable:RouteTable": "rtb",
    "aws:ec2/route:Route": "r-rtb",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "rtbassoc",
    "aws:ec2/eip:Eip": "eipalloc",
    "aws:ec2/securityGroup:SecurityGroup": "sg",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "sg",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce",
    "aws:ec2/flowLog:FlowLog": "fl",
    "aws:ec2/launchTemplate:LaunchTemplate": "lt",
    "aws:ec2/vpcPeeringConnection:VpcPeeringConnection": "pcx",
}


def _digest(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


class RealisticMocks(pulumi.runtime.Mocks):
    """Mocks that answer like AWS, EKS and Kubernetes in ``region``."""

    def __init__(self, region: str, partition: str = "aws") -> None:
        self.region = region
        self.partition = partition
        self._provider_regions: dict[str, str] = {}
        """Provider ID -> region, so resources of an explicit DR provider get DR ARNs."""

    def _region_of(self, provider_ref: str | None) -> str:
        return self._provider_regions.get((provider_ref or "").rsplit("::", 1)[-1], self.region)

    # -- resources -------------------------------------------------------------------------------
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        typ, name, inputs = args.typ, args.name, dict(args.inputs)
        h = _digest(typ, name)
        region = self._region_of(args.provider)
        if typ.startswith("pulumi:providers:"):
            if typ == "pulumi:providers:aws" and isinstance(inputs.get("region"), str):
                self._provider_regions[f"{name}-provider-id"] = inputs["region"]
            return f"{name}-provider-id", inputs
        if typ.startswith("kubernetes:"):
            return self._kubernetes(typ, name, inputs, h)
        if typ == "eks:index:Cluster":
            return self._eks_cluster(name, inputs, h)
        if typ.startswith("random:"):
            return self._random(typ, name, inputs, h)
        if typ in _ID_PREFIXES:
            rid = f"{_ID_PREFIXES[typ]}-{h[:17]}"
            state = {**inputs, "arn": self._arn("ec2", region, f"{typ.split(':')[-1].lower()}/{rid}")}
            if typ == "aws:ec2/eip:Eip":
                state.update(allocationId=rid, publicIp=f"52.{int(h[:2], 16)}.{int(h[2:4], 16)}.{int(h[4:6], 16)}")
            if typ == "aws:ec2/launchTemplate:LaunchTemplate":
                state.update(latestVersion=1, defaultVersion=1)
            if typ == "aws:ec2/vpc:Vpc":
                state.update(defaultSecurityGroupId=f"sg-{h[17:34]}", mainRouteTableId=f"rtb-{h[17:34]}")
            return rid, state
        return self._aws(typ, name, inputs, h, region)

    def _arn(self, service: str, region: str, resource: str, *, global_: bool = False) -> str:
        return f"arn:{self.partition}:{service}:{'' if global_ else region}:{ACCOUNT_ID}:{resource}"

    def _aws(self, typ: str, name: str, inputs: dict[str, Any], h: str, region: str) -> tuple[str, dict[str, Any]]:
        module = typ.split(":")[1].split("/")[0]
        physical = inputs.get("name") or f"{name}-{h[:7]}"
        state = dict(inputs)
        if typ == "aws:kms/key:Key":
            key_id = str(uuid.UUID(h[:32]))
            return key_id, {**state, "keyId": key_id, "arn": self._arn("kms", region, f"key/{key_id}")}
        if typ == "aws:kms/alias:Alias":
            return physical, {**state, "arn": self._arn("kms", region, physical)}
        if typ == "aws:iam/role:Role":
            return physical, {
                **state,
                "name": physical,
                "arn": self._arn("iam", "", f"role/{physical}", global_=True),
                "uniqueId": f"AROA{h[:17].upper()}",
            }
        if typ == "aws:cloudwatch/logGroup:LogGroup":
            return physical, {**state, "name": physical, "arn": self._arn("logs", region, f"log-group:{physical}")}
        if typ == "aws:eks/nodeGroup:NodeGroup":
            cluster = inputs.get("clusterName", "cluster")
            node_group = inputs.get("nodeGroupName", physical)
            arn = self._arn("eks", region, f"nodegroup/{cluster}/{node_group}/{h[:36]}")
            return f"{cluster}:{node_group}", {**state, "arn": arn, "status": "ACTIVE"}
        if typ == "aws:acm/certificate:Certificate":
            domain = inputs.get("domainName", "example.com")
            arn = self._arn("acm", region, f"certificate/{uuid.UUID(h[:32])}")
            options = [
                {
                    "domainName": name_,
                    "resourceRecordName": f"_{_digest(h, name_)[:32]}.{name_}.",
                    "resourceRecordType": "CNAME",
                    "resourceRecordValue": f"_{_digest(name_, h)[:32]}.jkddzztszm.acm-validations.aws.",
                }
                for name_ in [domain, *(inputs.get("subjectAlternativeNames") or [])]
            ]
            return arn, {**state, "arn": arn, "domainValidationOptions": options, "status": "ISSUED"}
        if typ == "aws:acm/certificateValidation:CertificateValidation":
            return str(inputs.get("certificateArn")), state
        if typ == "aws:route53/record:Record":
            fqdn = str(inputs.get("name", name)).rstrip(".")
            return f"{inputs.get('zoneId')}_{fqdn}_{inputs.get('type')}", {**state, "fqdn": fqdn}
        if typ == "aws:wafv2/webAcl:WebAcl":
            waf_id = str(uuid.UUID(h[:32]))
            return waf_id, {
                **state,
                "arn": self._arn("wafv2", region, f"regional/webacl/{physical}/{waf_id}"),
                "capacity": 750,
            }
        if typ in ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"):
            bucket = inputs.get("bucket") or f"{name}-{h[:7]}"
            return bucket, {
                **state,
                "bucket": bucket,
                "arn": f"arn:{self.partition}:s3:::{bucket}",
                "bucketRegionalDomainName": f"{bucket}.s3.{region}.amazonaws.com",
                "region": region,
            }
        if typ == "aws:ecr/repository:Repository":
            url = f"{ACCOUNT_ID}.dkr.ecr.{region}.amazonaws.com/{physical}"
            return physical, {
                **state,
                "name": physical,
                "arn": self._arn("ecr", region, f"repository/{physical}"),
                "registryId": ACCOUNT_ID,
                "repositoryUrl": url,
            }
        if typ == "aws:eks/addon:Addon":
            cluster, addon = inputs.get("clusterName", "cluster"), inputs.get("addonName", name)
            return f"{cluster}:{addon}", {
                **state,
                "arn": self._arn("eks", region, f"addon/{cluster}/{addon}/{h[:36]}"),
                "addonVersion": "v1.0.0-eksbuild.1",
            }
        return physical, {**state, "arn": self._arn(module, region, f"{module}/{physical}")}

    def _eks_cluster(self, name: str, inputs: dict[str, Any], h: str) -> tuple[str, dict[str, Any]]:
        cluster = inputs.get("name", name)
        issuer = f"oidc.eks.{self.region}.amazonaws.com/id/{h[:32].upper()}"
        endpoint = f"https://{h[:32].upper()}.gr7.{self.region}.eks.amazonaws.com"
        kubeconfig = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {"name": cluster, "cluster": {"server": endpoint, "certificate-authority-data": "LS0tLS1CRUdJTg=="}}
            ],
            "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": cluster}}],
            "current-context": cluster,
            "users": [
                {
                    "name": cluster,
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "aws",
                            "args": ["eks", "get-token", "--cluster-name", cluster, "--region", self.region],
                        }
                    },
                }
            ],
        }
        return f"{cluster}-component", {
            **inputs,
            "kubeconfig": kubeconfig,
            "kubeconfigJson": json.dumps(kubeconfig),
            "oidcIssuer": issuer,
            "oidcProviderUrl": f"https://{issuer}",
            "oidcProviderArn": self._arn("iam", "", f"oidc-provider/{issuer}", global_=True),
            "clusterSecurityGroupId": f"sg-{h[:17]}",
            "nodeSecurityGroupId": f"sg-{h[17:34]}",
        }

    def _kubernetes(self, typ: str, name: str, inputs: dict[str, Any], h: str) -> tuple[str, dict[str, Any]]:
        if typ.startswith("kubernetes:helm.sh/"):
            release = inputs.get("name") or f"{name}-{h[:8]}"
            status = {
                "name": release,
                "namespace": inputs.get("namespace", "default"),
                "status": "deployed",
                "chart": inputs.get("chart"),
                "version": inputs.get("version"),
                "revision": 1,
            }
            return f"{status['namespace']}/{release}", {**inputs, "name": release, "status": status}
        metadata = dict(inputs.get("metadata") or {})
        metadata.setdefault("name", f"{name}-{h[:8]}")
        state = {**inputs, "metadata": {**metadata, "uid": str(uuid.UUID(h[:32]))}}
        if typ == "kubernetes:networking.k8s.io/v1:Ingress":
            alb = f"k8s-{metadata.get('namespace', 'default')[:8]}-{metadata['name'][:8]}-{h[:10]}-{int(h[10:19], 16)}"
            state["status"] = {"loadBalancer": {"ingress": [{"hostname": f"{alb}.{self.region}.elb.amazonaws.com"}]}}
        if typ == "kubernetes:core/v1:Service" and (inputs.get("spec") or {}).get("type") == "LoadBalancer":
            nlb = f"k8s-{metadata.get('namespace', 'default')[:8]}-{metadata['name'][:8]}-{h[:10]}"
            state["status"] = {"loadBalancer": {"ingress": [{"hostname": f"{nlb}.elb.{self.region}.amazonaws.com"}]}}
        ns = metadata.get("namespace")
        return (f"{ns}/{metadata['name']}" if ns else metadata["name"]), state

    def _random(self, typ: str, name: str, inputs: dict[str, Any], h: str) -> tuple[str, dict[str, Any]]:
        length = int(inputs.get("length", 32))
        value = (h * 4)[:length]
        return f"{name}-id", {**inputs, "result": value, "hex": h[:length], "b64Std": value, "b64Url": value}

    # -- invokes ---------------------------------------------------------------------------------
    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        token = args.token
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": ACCOUNT_ID,
                "arn": f"arn:{self.partition}:sts::{ACCOUNT_ID}:assumed-role/deploy/pulumi",
                "userId": "AROAEXAMPLE:pulumi",
                "id": ACCOUNT_ID,
            }, []
        if token == "aws:index/getPartition:getPartition":
            return {"partition": self.partition, "dnsSuffix": "amazonaws.com", "id": self.partition}, []
        if token == "aws:index/getRegion:getRegion":
            return {"name": self.region, "region": self.region, "id": self.region}, []
        if token == "aws:lb/getHostedZoneId:getHostedZoneId":
            # The published canonical zone of ALBs in eu-west-1; other regions get a stand-in.
            region = self._region_of(args.provider)
            zone = "Z32O12XQLNTSW2" if region == "eu-west-1" else "Z0000000000ALB"
            return {"id": zone, "loadBalancerType": args.args.get("loadBalancerType"), "region": region}, []
        if token == "aws:secretsmanager/getSecretVersion:getSecretVersion":
            # The shape of the alerting secret the stack reads; values are stand-ins, never real.
            secret_id = str(args.args.get("secretId"))
            document = {
                "slackWebhookUrl": "https://hooks.slack.invalid/offline",
                "pagerdutyRoutingKey": "offline",
                "heartbeatUrl": "https://heartbeat.invalid/offline",
                "drHeartbeatUrl": "https://heartbeat.invalid/offline-dr",
                "password": "offline-stand-in",
            }
            arn = (
                secret_id
                if secret_id.startswith("arn:")
                else self._arn("secretsmanager", self.region, f"secret:{secret_id}")
            )
            return {
                "id": arn,
                "arn": arn,
                "secretId": secret_id,
                "secretString": json.dumps(document),
                "versionId": "00000000-0000-0000-0000-000000000000",
                "versionStages": ["AWSCURRENT"],
            }, []
        raise NotImplementedError(f"the offline engine has no mock for invoke {token}")
