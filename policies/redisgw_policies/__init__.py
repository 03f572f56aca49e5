"""The policies of the pack, by domain. ``policies/__main__.py`` only assembles them."""

from redisgw_policies import eks, network

PACK_NAME = "redisgw-production-readiness"
POLICIES = [*eks.POLICIES, *network.POLICIES]
