"""Assembles the policy pack; every policy lives in redisgw_policies."""

from pulumi_policy import EnforcementLevel, PolicyPack

from redisgw_policies import PACK_NAME, POLICIES

PolicyPack(name=PACK_NAME, policies=POLICIES, enforcement_level=EnforcementLevel.ADVISORY)
