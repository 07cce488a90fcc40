"""The Ray connection and the helpers every distributed pipeline shares (ray is imported on call only).

* :func:`connect`: the current Ray instance if ``ray.is_initialized()``, else the cluster at
  ``address``, else a new local instance with ``num_cpus`` CPUs (default ``os.cpu_count()``). A
  connection this module opened stays open for the next call, as Ray's own libraries do; the process
  closes it at exit (or call ``ray.shutdown()``).
* :func:`remote`: a module-level function as a Ray task, made once per function and options.
* :func:`completed`: the results of tasks as they finish, with their index, a progress bar, and a
  :class:`~textsmooth.errors.TextsmoothError` raised in a task raised again as itself.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from types import ModuleType
from typing import Any

from textsmooth import _extras
from textsmooth._params import check_int
from textsmooth.errors import ConfigError, TextsmoothError

__all__ = ["completed", "connect", "get", "remote", "require_ray"]


def require_ray(feature: str = "textsmooth.distributed") -> ModuleType:
    """The ``ray`` module, or :class:`~textsmooth.errors.MissingDependencyError` naming the ``ray`` extra."""
    return _extras.require("ray", extra="ray", feature=feature)


#: the logger of Ray's "token authentication is enabled" notice (ray 2.5x)
_RAY_TOKEN_LOGGER = "ray._private.authentication.authentication_token_setup"


def connect(
    address: str | None = None, *, num_cpus: int | None = None, feature: str = "textsmooth.distributed"
) -> ModuleType:
    """The ``ray`` module, connected: to the current instance, to ``address``, or to a new local one.

    Args:
        address: a Ray cluster (``"auto"``, ``"ray://head:10001"``, ``"10.0.0.1:6379"``); ignored when
            Ray is already initialised in this process. ``None``: start a local instance.
        num_cpus: CPUs of a new local instance (default ``os.cpu_count()``); not with ``address``.
        feature: what needs Ray, named by the error when ray is not installed.

    Raises:
        MissingDependencyError: ray is not installed (extra ``ray``).
        ConfigError: ``num_cpus`` is not an integer >= 1, or is given with ``address``.
    """
    ray = require_ray(feature)
    check_int("num_cpus", num_cpus, allow_none=True)
    if ray.is_initialized():
        return ray
    options: dict[str, Any] = {"logging_level": logging.WARNING, "include_dashboard": False}
    if address is not None:
        if num_cpus is not None:
            raise ConfigError(
                "num_cpus is for a new local Ray instance, not for one at an address",
                column="num_cpus",
                hint="the cluster's nodes declare their own CPUs",
            )
        check_reachable(address)
        ray.init(address=address, **options)
    else:
        # Ray turns token authentication on for every new local instance (RAY_AUTH_MODE unset) and warns
        # that it did, at each start; keep the default, drop the warning (its logger, during this call)
        token_log = logging.getLogger(_RAY_TOKEN_LOGGER)
        level = token_log.level
        token_log.setLevel(logging.ERROR)
        try:
            ray.init(num_cpus=num_cpus or os.cpu_count() or 1, **options)
        finally:
            token_log.setLevel(level)
    return ray


def check_reachable(address: str, *, timeout: float = 5.0) -> None:
    """Refuse a ``host:port`` or ``ray://host:port`` address nothing answers at within ``timeout`` seconds
    (``ray.init`` would retry for minutes). ``"auto"`` and addresses without a port are left to Ray.

    Raises:
        ConfigError: naming the address.
    """
    import socket

    hostport = address.removeprefix("ray://")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit() or not host:
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ConfigError(
            f"no Ray cluster answers at {address} ({exc.strerror or exc})",
            option="--address",
            hint="start the cluster (`ray start --head`) or check the address; leave --address out for a "
            "local instance",
        ) from exc


def cluster_cpus(ray: ModuleType) -> int:
    """CPUs of the connected cluster (at least 1)."""
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


@functools.cache
def _remote_function(function: Callable[..., Any]) -> Any:
    return require_ray().remote(function)


def remote(function: Callable[..., Any], **options: Any) -> Any:
    """``function`` (module level, importable by the workers) as a Ray remote function with ``options``."""
    task = _remote_function(function)
    return task.options(**options) if options else task


def get(ray: ModuleType, ref: Any) -> Any:
    """``ray.get(ref)``; a :class:`TextsmoothError` raised in the task is raised again as itself."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, TextsmoothError):
            raise cause from None
        raise


def completed(
    ray: ModuleType, refs: Sequence[Any], *, desc: str, progress: bool = False, fetch: bool = True
) -> Iterator[tuple[int, Any]]:
    """``(index, result)`` of each task in ``refs`` as it finishes (fails fast on the first error).

    With ``fetch=False`` the results stay where they are and ``None`` is yielded (errors surface
    where the results are used).
    """
    from tqdm.auto import tqdm

    index = {ref: i for i, ref in enumerate(refs)}
    pending = list(refs)
    with tqdm(total=len(refs), desc=desc, unit="shard", disable=not progress, leave=False) as bar:
        while pending:
            done, pending = ray.wait(pending, num_returns=1, fetch_local=fetch)
            for ref in done:
                yield index[ref], (get(ray, ref) if fetch else None)
                bar.update()
