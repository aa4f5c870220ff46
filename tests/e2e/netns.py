"""Entering a network namespace from a test helper (Python 3.11 has no
os.setns): shared by tap_inject.py and tun_wire.py."""
import ctypes
import os

CLONE_NEWNET = 0x40000000

libc = ctypes.CDLL(None, use_errno=True)


def setns_fd(fd, what="setns"):
    if libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")


def setns(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        setns_fd(fd, f"setns {path}")
    finally:
        os.close(fd)
