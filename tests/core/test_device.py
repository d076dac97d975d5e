"""Device helpers that need no GPU."""


def test_freed_memory_is_kept_on_glibc():
    import platform

    from core.device import keep_freed_cpu_memory

    on_glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert keep_freed_cpu_memory() is on_glibc


def test_every_device_offered_can_be_used():
    from core.device import available_devices, resolve_device

    devices = available_devices()
    assert devices[:2] == ["auto", "cpu"] and len(set(devices)) == len(devices)
    for choice in devices:
        resolve_device(choice)  # raises DeviceUnavailableError for a device that is not here
