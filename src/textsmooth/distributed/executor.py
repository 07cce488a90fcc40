"""A :class:`concurrent.futures.Executor` whose calls are Ray tasks: experiment grids on a Ray cluster.

The three recipe runners (:func:`~textsmooth.experiments.runner.run_recipe`,
:func:`~textsmooth.experiments.seq2seq.run_seq2seq_recipe`,
:func:`~textsmooth.experiments.autoencoder.run_autoencoder_recipe`) submit each training to an executor:
a local process pool for ``--jobs N``, or a :class:`RayExecutor` for ``--backend ray``. Same worker
functions, same run folder, same records.

``submit(fn, *args)`` runs ``fn(*args)`` as ``ray.remote(...).options(num_cpus, num_gpus, max_retries)``
and returns a :class:`concurrent.futures.Future` fed by the task's ``ObjectRef.future()``. In the task,
torch's thread count is set to the task's CPUs before ``fn`` runs (the worker functions give their
training that many threads). A library error raised in a task is raised by ``Future.result()`` as itself;
cancelling a future cancels its task.

The worker functions write into the run folder themselves (checkpoints, results), so on a cluster the run
folder must be at the same path on every node (a shared file system); a local Ray instance always is.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, InvalidStateError
from concurrent.futures import wait as wait_futures
from typing import Any

from textsmooth.distributed import _ray
from textsmooth.errors import ConfigError, TextsmoothError

__all__ = ["RayExecutor"]

_FEATURE = "textsmooth.distributed.RayExecutor"


class RayExecutor(Executor):
    """Runs each submitted call as a Ray task with ``num_cpus`` CPUs and ``num_gpus`` GPUs.

    Args:
        num_cpus: CPUs per task (fractions allowed); the task's torch threads are ``max(1, floor)`` of it.
        num_gpus: GPUs per task (Ray sets ``CUDA_VISIBLE_DEVICES``; a training must also ask for
            ``device: cuda``).
        max_retries: how often Ray runs a task again whose worker died (a training resumes from its
            checkpoint).
        address, ray_num_cpus: the Ray instance (see :func:`textsmooth.distributed.connect`), connected
            on the first ``submit``: the current one when Ray is initialised, else the cluster at
            ``address``, else a new local one with ``ray_num_cpus`` CPUs.

    Example:
        >>> from textsmooth.distributed.executor import RayExecutor
        >>> from textsmooth.experiments.runner import run_recipe
        >>> with RayExecutor.for_recipe(recipe) as executor:  # doctest: +SKIP
        ...     records = run_recipe(recipe, "runs/ci-tiny", executor=executor)
    """

    def __init__(
        self,
        *,
        num_cpus: float = 1,
        num_gpus: float = 0,
        max_retries: int = 3,
        address: str | None = None,
        ray_num_cpus: int | None = None,
    ) -> None:
        for name, value, low_open in (("num_cpus", num_cpus, True), ("num_gpus", num_gpus, False)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ConfigError(f"{name} must be a number, got {value!r}", column=name)
            if value < 0 or (low_open and value == 0):
                raise ConfigError(
                    f"{name} must be {'> 0' if low_open else '>= 0'}, got {value!r}", column=name
                )
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ConfigError(
                f"max_retries must be an integer >= 0, got {max_retries!r}", column="max_retries"
            )
        _ray.require_ray(_FEATURE)
        self.num_cpus = num_cpus
        self.num_gpus = num_gpus
        self.max_retries = max_retries
        self.address = address
        self.ray_num_cpus = ray_num_cpus
        self._ray: Any = None
        self._futures: set[_TaskFuture] = set()
        self._lock = threading.Lock()
        self._shutdown = False

    @classmethod
    def for_recipe(cls, recipe: Any, **kwargs: Any) -> RayExecutor:
        """An executor with the recipe's ``resources`` per training (default 1 CPU, 0 GPUs)."""
        from textsmooth.experiments.recipe import check_resources

        resources = check_resources(getattr(recipe, "resources", None), getattr(recipe, "path", "<recipe>"))
        return cls(num_cpus=resources["cpus"], num_gpus=resources["gpus"], **kwargs)

    @property
    def threads(self) -> int:
        """Torch threads of a task: its CPUs, at least 1."""
        return max(1, math.floor(self.num_cpus))

    @property
    def description(self) -> str:
        """What the runners log: ``Ray tasks (1 CPU, 0 GPUs each)``."""
        cpus = f"{self.num_cpus:g} CPU{'s' if self.num_cpus != 1 else ''}"
        gpus = f"{self.num_gpus:g} GPU{'s' if self.num_gpus != 1 else ''}"
        return f"Ray tasks ({cpus}, {gpus} each)"

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Run ``fn(*args, **kwargs)`` (a module-level function) as a Ray task; its future."""
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot submit to a RayExecutor after shutdown")
            if self._ray is None:
                self._ray = _ray.connect(self.address, num_cpus=self.ray_num_cpus, feature=_FEATURE)
            task = _ray.remote(
                _call, num_cpus=self.num_cpus, num_gpus=self.num_gpus, max_retries=self.max_retries
            )
            ref = task.remote(fn, self.threads, args, kwargs)
            future = _TaskFuture(self._ray, ref)
            self._futures.add(future)
        future.add_done_callback(self._forget)
        ref.future().add_done_callback(future._settle)
        return future

    def _forget(self, future: Future[Any]) -> None:
        with self._lock:
            self._futures.discard(future)  # type: ignore[arg-type]

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """No new tasks; with ``cancel_futures`` the unfinished ones are cancelled; with ``wait`` wait for
        the rest. The Ray connection stays (it is the caller's, or closes at exit)."""
        with self._lock:
            self._shutdown = True
            pending = list(self._futures)
        if cancel_futures:
            for future in pending:
                future.cancel()
        if wait:
            wait_futures(pending)

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool | None:
        self.shutdown(wait=True, cancel_futures=exc_type is not None)
        return None


class _TaskFuture(Future):  # type: ignore[type-arg]
    """The future of one Ray task: settled from its ``ObjectRef``; ``cancel`` also cancels the task."""

    def __init__(self, ray: Any, ref: Any) -> None:
        super().__init__()
        self._ray_module = ray
        self._ref = ref

    def cancel(self) -> bool:
        cancelled = super().cancel()
        if cancelled:
            try:
                self._ray_module.cancel(self._ref)
            except Exception:  # pragma: no cover - the task may be gone already
                pass
        return cancelled

    def _settle(self, ref_future: Future[Any]) -> None:
        try:
            if ref_future.cancelled():
                super().cancel()
                return
            exc = ref_future.exception()
            if exc is None:
                self.set_result(ref_future.result())
                return
            cause = getattr(exc, "cause", None)
            self.set_exception(cause if isinstance(cause, TextsmoothError) else exc)
        except InvalidStateError:  # cancelled meanwhile
            pass


def _call(fn: Callable[..., Any], threads: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The task: torch's threads set to the task's CPUs, then ``fn(*args, **kwargs)``."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency of the trainings
        pass
    else:
        torch.set_num_threads(threads)
    return fn(*args, **kwargs)
