"""The offline preview engine: the Pulumi program under Pulumi's mock runtime, the policy pack over the
analyzer protocol and strict Kubernetes schemas (``python -m ops preview``, ``python -m ops policies``).

It needs the program's own dependencies (Pulumi and its providers) plus ``requirements.txt`` beside this
file; it never runs in the cluster.
"""
