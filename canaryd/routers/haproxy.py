"""Traffic router for the standalone mode: HAProxy server weights through the runtime API.

Layer 2 adapter. One HAProxy backend contains two servers, the primary (the version in service) and
the canary. The router splits traffic between them by setting both servers' weights over the
stats UNIX socket (`stats socket ... level admin` in haproxy.cfg), then reads the weights back and
raises when HAProxy reports anything else.

Weights are percentages: the canary gets `weight` and the primary `100 - weight`. HAProxy accepts
0..256 per server, so every percentage is a valid server weight, and the share the canary receives
under `balance roundrobin` is its weight over the sum of both weights.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import socket

import structlog

from canaryd.routers import protocol

logger = structlog.get_logger(__name__)

FULL_WEIGHT = protocol.FULL_WEIGHT


class HAProxyError(protocol.RouterError):
    """Base class of the errors this router raises."""


class RuntimeSocketError(HAProxyError):
    """The stats socket is missing, refuses the connection, or timed out."""


class RuntimeCommandError(HAProxyError):
    """HAProxy rejected a runtime API command (unknown backend or server, bad value)."""


class WeightMismatchError(HAProxyError, protocol.WeightMismatchError):
    """The weights read back after a change differ from the weights just set."""


@dataclasses.dataclass(frozen=True)
class Weights:
    """Server weights of the primary and the canary as HAProxy reports them."""

    primary: int
    canary: int

    @property
    def canary_percent(self) -> float:
        """Share of new requests the canary receives, in percent (0 when both weights are 0)."""
        total = self.primary + self.canary
        if total == 0:
            return 0.0
        return 100.0 * self.canary / total


@dataclasses.dataclass(frozen=True)
class ServerStats:
    """Cumulative counters of one server from `show stat`."""

    server: str
    weight: int
    status: str  # "UP", "DOWN", "no check", "MAINT" and so on
    selected: int  # `lbtot`: times the load balancer chose this server
    responses_2xx: int
    responses_5xx: int


class RuntimeAPI:
    """A client of HAProxy's runtime API over a UNIX stats socket, one command per connection."""

    def __init__(self, *, socket_path: str, timeout: float = 2.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout

    def execute(self, command: str) -> str:
        """Send one command and return HAProxy's output with trailing blank lines removed."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
                connection.settimeout(self.timeout)
                connection.connect(self.socket_path)
                connection.sendall(command.encode("ascii") + b"\n")
                output = _read_until_closed(connection)
        except FileNotFoundError as error:
            raise RuntimeSocketError(
                f"HAProxy stats socket {self.socket_path} does not exist: check `stats socket` in "
                f"haproxy.cfg and that HAProxy is running"
            ) from error
        except OSError as error:
            raise RuntimeSocketError(
                f"HAProxy stats socket {self.socket_path} failed on command {command!r}: {error}; "
                f"check that HAProxy is running and the socket is readable by this user"
            ) from error
        return output.decode("utf-8", errors="replace").rstrip("\n")


def _read_until_closed(connection: socket.socket) -> bytes:
    # HAProxy closes a non-interactive connection after writing the whole output.
    chunks = []
    while chunk := connection.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


class HAProxyRouter:
    """Split one backend's traffic between a primary and a canary server by their weights."""

    def __init__(
        self,
        *,
        socket_path: str,
        backend: str,
        primary_server: str,
        canary_server: str,
        timeout: float = 2.0,
    ) -> None:
        self.api = RuntimeAPI(socket_path=socket_path, timeout=timeout)
        self.backend = backend
        self.primary_server = primary_server
        self.canary_server = canary_server
        self.log = logger.bind(backend=backend)

    def set_weight(self, *, weight: int) -> None:
        """Route `weight` percent to the canary and the rest to the primary, then verify."""
        protocol.check_weight(weight)
        target = Weights(primary=FULL_WEIGHT - weight, canary=weight)

        # Raise the growing server first, so both weights are never 0 at the same time: a backend
        # with no weight left would return 503 to every request in between the two commands.
        current = self.weights()
        if target.canary > current.canary:
            order = [(self.canary_server, target.canary), (self.primary_server, target.primary)]
        else:
            order = [(self.primary_server, target.primary), (self.canary_server, target.canary)]
        for server, server_weight in order:
            self._set_server_weight(server, server_weight)

        applied = self.weights()
        if applied != target:
            raise WeightMismatchError(
                f"HAProxy backend {self.backend} reports weights primary={applied.primary} "
                f"canary={applied.canary} after setting primary={target.primary} canary={target.canary}: "
                f"another client may be changing them; stop it and retry"
            )
        self.log.info("canary_weight_set", weight=weight)

    def current_weight(self) -> int:
        """Return the canary's share of traffic in whole percent, as HAProxy reports it now."""
        return round(self.weights().canary_percent)

    def weights(self) -> Weights:
        """Read both servers' current weights."""
        return Weights(
            primary=self._get_server_weight(self.primary_server),
            canary=self._get_server_weight(self.canary_server),
        )

    def server_stats(self) -> dict[str, ServerStats]:
        """Read the cumulative counters of the backend's servers, by server name."""
        output = self.api.execute("show stat")
        rows = csv.DictReader(io.StringIO(output.removeprefix("# ")))
        stats = {}
        for row in rows:
            if row["pxname"] != self.backend or row["svname"] in ("FRONTEND", "BACKEND"):
                continue
            stats[row["svname"]] = ServerStats(
                server=row["svname"],
                weight=_as_int(row["weight"]),
                status=row["status"],
                selected=_as_int(row["lbtot"]),
                responses_2xx=_as_int(row["hrsp_2xx"]),
                responses_5xx=_as_int(row["hrsp_5xx"]),
            )
        if not stats:
            raise RuntimeCommandError(
                f"HAProxy reports no servers in backend {self.backend!r}: check the backend name in "
                f"haproxy.cfg and in the rollout config"
            )
        return stats

    def _set_server_weight(self, server: str, weight: int) -> None:
        output = self.api.execute(f"set weight {self.backend}/{server} {weight}")
        if output.strip():
            raise RuntimeCommandError(
                f"HAProxy rejected weight {weight} for server {self.backend}/{server}: {output.strip()} "
                f"Check the backend and server names in haproxy.cfg and in the rollout config"
            )

    def _get_server_weight(self, server: str) -> int:
        # For a known server the output is "<current> (initial <configured>)"; anything else is an error.
        output = self.api.execute(f"get weight {self.backend}/{server}").strip()
        match = re.fullmatch(r"(\d+) \(initial \d+\)", output)
        if match is None:
            raise RuntimeCommandError(
                f"HAProxy could not read the weight of server {self.backend}/{server}: {output} "
                f"Check the backend and server names in haproxy.cfg and in the rollout config"
            )
        return int(match.group(1))


def _as_int(field: str) -> int:
    # `show stat` leaves counters empty where they do not apply to a row.
    return int(field) if field else 0
