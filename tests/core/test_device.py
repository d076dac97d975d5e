"""Device helpers that need no GPU."""


def test_freed_memory_is_kept_on_glibc():
    import platform

    from core.device import keep_freed_cpu_memory

    on_glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert keep_freed_cpu_memory() is on_glibc
