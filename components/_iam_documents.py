"""IAM permission documents for the cluster controllers that talk to AWS.

Each function returns a policy document scoped as tightly as the controller allows: writes are
limited to resources carrying the cluster's ownership tag, reads are ``Describe*``/``Get*`` only.
"""

from __future__ import annotations

from typing import Any

_ELB = "elasticloadbalancing"


def load_balancer_controller() -> dict[str, Any]:
    """Permissions of the AWS Load Balancer Controller (ALB/NLB, target groups, WAF, Shield, ACM).

    Mutations of load balancers, target groups and security groups require the
    ``elbv2.k8s.aws/cluster`` tag, which the controller sets on everything it creates.
    """
    owned = {"Null": {"aws:ResourceTag/elbv2.k8s.aws/cluster": "false"}}
    tagging_on_create = {"Null": {"aws:RequestTag/elbv2.k8s.aws/cluster": "false"}}
    lb_arns = [
        f"arn:aws:{_ELB}:*:*:targetgroup/*/*",
        f"arn:aws:{_ELB}:*:*:loadbalancer/net/*/*",
        f"arn:aws:{_ELB}:*:*:loadbalancer/app/*/*",
    ]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ServiceLinkedRole",
                "Effect": "Allow",
                "Action": "iam:CreateServiceLinkedRole",
                "Resource": "*",
                "Condition": {"StringEquals": {"iam:AWSServiceName": f"{_ELB}.amazonaws.com"}},
            },
            {
                "Sid": "Discovery",
                "Effect": "Allow",
                "Action": [
                    "ec2:DescribeAccountAttributes",
                    "ec2:DescribeAddresses",
                    "ec2:DescribeAvailabilityZones",
                    "ec2:DescribeInternetGateways",
                    "ec2:DescribeVpcs",
                    "ec2:DescribeVpcPeeringConnections",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeInstances",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeTags",
                    "ec2:DescribeRouteTables",
                    "ec2:DescribeIpamPools",
                    "ec2:GetCoipPoolUsage",
                    "ec2:DescribeCoipPools",
                    "ec2:GetSecurityGroupsForVpc",
                    f"{_ELB}:Describe*",
                    "acm:ListCertificates",
                    "acm:DescribeCertificate",
                    "iam:ListServerCertificates",
                    "iam:GetServerCertificate",
                    "cognito-idp:DescribeUserPoolClient",
                    "wafv2:GetWebACL",
                    "wafv2:GetWebACLForResource",
                    "shield:GetSubscriptionState",
                    "shield:DescribeProtection",
                ],
                "Resource": "*",
            },
            {
                "Sid": "AttachProtection",
                "Effect": "Allow",
                "Action": [
                    "wafv2:AssociateWebACL",
                    "wafv2:DisassociateWebACL",
                    "shield:CreateProtection",
                    "shield:DeleteProtection",
                ],
                "Resource": "*",
            },
            {
                "Sid": "SecurityGroupCreate",
                "Effect": "Allow",
                "Action": [
                    "ec2:CreateSecurityGroup",
                    "ec2:AuthorizeSecurityGroupIngress",
                    "ec2:RevokeSecurityGroupIngress",
                ],
                "Resource": "*",
            },
            {
                "Sid": "SecurityGroupTagOnCreate",
                "Effect": "Allow",
                "Action": "ec2:CreateTags",
                "Resource": "arn:aws:ec2:*:*:security-group/*",
                "Condition": {
                    "StringEquals": {"ec2:CreateAction": "CreateSecurityGroup"},
                    **tagging_on_create,
                },
            },
            {
                "Sid": "SecurityGroupManageOwned",
                "Effect": "Allow",
                "Action": [
                    "ec2:CreateTags",
                    "ec2:DeleteTags",
                    "ec2:AuthorizeSecurityGroupIngress",
                    "ec2:RevokeSecurityGroupIngress",
                    "ec2:DeleteSecurityGroup",
                ],
                "Resource": "*",
                "Condition": owned,
            },
            {
                "Sid": "LoadBalancerCreate",
                "Effect": "Allow",
                "Action": [f"{_ELB}:CreateLoadBalancer", f"{_ELB}:CreateTargetGroup"],
                "Resource": "*",
                "Condition": tagging_on_create,
            },
            {
                "Sid": "ListenersAndRules",
                "Effect": "Allow",
                "Action": [
                    f"{_ELB}:CreateListener",
                    f"{_ELB}:DeleteListener",
                    f"{_ELB}:CreateRule",
                    f"{_ELB}:DeleteRule",
                    f"{_ELB}:ModifyListener",
                    f"{_ELB}:ModifyRule",
                    f"{_ELB}:SetRulePriorities",
                    f"{_ELB}:AddListenerCertificates",
                    f"{_ELB}:RemoveListenerCertificates",
                    f"{_ELB}:ModifyListenerAttributes",
                    f"{_ELB}:SetWebAcl",
                ],
                "Resource": "*",
            },
            {
                "Sid": "TagOnCreate",
                "Effect": "Allow",
                "Action": f"{_ELB}:AddTags",
                "Resource": lb_arns,
                "Condition": {
                    "StringEquals": {f"{_ELB}:CreateAction": ["CreateTargetGroup", "CreateLoadBalancer"]},
                    **tagging_on_create,
                },
            },
            {
                "Sid": "ManageOwned",
                "Effect": "Allow",
                "Action": [
                    f"{_ELB}:AddTags",
                    f"{_ELB}:RemoveTags",
                    f"{_ELB}:ModifyLoadBalancerAttributes",
                    f"{_ELB}:SetIpAddressType",
                    f"{_ELB}:SetSecurityGroups",
                    f"{_ELB}:SetSubnets",
                    f"{_ELB}:DeleteLoadBalancer",
                    f"{_ELB}:ModifyTargetGroup",
                    f"{_ELB}:ModifyTargetGroupAttributes",
                    f"{_ELB}:DeleteTargetGroup",
                ],
                "Resource": "*",
                "Condition": owned,
            },
            {
                "Sid": "Targets",
                "Effect": "Allow",
                "Action": [f"{_ELB}:RegisterTargets", f"{_ELB}:DeregisterTargets"],
                "Resource": f"arn:aws:{_ELB}:*:*:targetgroup/*/*",
            },
        ],
    }


def cluster_autoscaler(cluster_name: str) -> dict[str, Any]:
    """Permissions of the Cluster Autoscaler: read everything, resize only this cluster's node groups.

    EKS managed node groups tag their Auto Scaling groups with
    ``k8s.io/cluster-autoscaler/<cluster>=owned``; writes are conditioned on that tag.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Discovery",
                "Effect": "Allow",
                "Action": [
                    "autoscaling:DescribeAutoScalingGroups",
                    "autoscaling:DescribeAutoScalingInstances",
                    "autoscaling:DescribeLaunchConfigurations",
                    "autoscaling:DescribeScalingActivities",
                    "autoscaling:DescribeTags",
                    "ec2:DescribeImages",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeLaunchTemplateVersions",
                    "ec2:GetInstanceTypesFromInstanceRequirements",
                    "eks:DescribeNodegroup",
                ],
                "Resource": "*",
            },
            {
                "Sid": "ResizeOwnNodeGroups",
                "Effect": "Allow",
                "Action": ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
                "Resource": "*",
                "Condition": {"StringEquals": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned"}},
            },
        ],
    }


def ebs_volume_key_use(key_arn: Any) -> dict[str, Any]:
    """Let the EBS CSI driver create and attach volumes encrypted with the cluster's volume key."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "GrantsForAttachedVolumes",
                "Effect": "Allow",
                "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
                "Resource": key_arn,
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
            },
            {
                "Sid": "UseKey",
                "Effect": "Allow",
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
                "Resource": key_arn,
            },
        ],
    }
