"""TCP port helpers for the local server."""

from __future__ import annotations

import socket

from .errors import PortInUseError


def find_free_port(host: str = "127.0.0.1") -> int:
    """A port that is free on ``host`` right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_is_free(host: str, port: int) -> bool:
    """True when nothing listens on ``host:port`` and we could bind it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # Same option llama-server uses, so a port in TIME_WAIT counts as free but a listening one does not.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def require_free_port(host: str, port: int) -> int:
    """Return ``port`` if it is free, else raise PortInUseError with what to do about it."""
    if not 1 <= port <= 65535:
        raise ValueError(f"port must be in 1..65535, got {port}")
    if not port_is_free(host, port):
        raise PortInUseError(
            f"Port {port} on {host} is already in use. If a llama-server of ours runs there, reuse it with "
            f"local_lm(url='http://{host}:{port}') (CLI: --url); otherwise pick another port or leave port=None "
            "to get a free one."
        )
    return port
