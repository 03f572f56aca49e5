"""The runtime tools the ops image runs in the cluster and operators run against live systems: backups
and restores over the Redis replication protocol, the restore drill and the post-deployment smoke test.

They need only ``requirements.txt`` beside this file (no Pulumi), which is all the ops image installs.
"""
