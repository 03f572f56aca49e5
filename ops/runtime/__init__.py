"""The runtime tools the ops image runs in the cluster and operators run against live systems: backups
and restores over the Redis replication protocol, the restore drill and the post-deployment smoke test.

They need only ``requirements.txt`` beside this file (no Pulumi), which is all the ops image installs.
"""


def _return_large_buffers_to_the_os() -> None:
    """Have glibc serve every allocation of 1 MiB or more with its own mapping, released on free.

    Backups and restores move data in 1-8 MiB buffers on several threads; glibc's default (a
    threshold that rises after each free, and one heap arena per thread) keeps freed buffers in the
    process, so its resident size would grow with the thread count instead of staying flat."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name is None:
        return
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD: fixed at 1 MiB
        libc.mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError):  # not glibc: its allocator has its own policy
        pass


_return_large_buffers_to_the_os()
