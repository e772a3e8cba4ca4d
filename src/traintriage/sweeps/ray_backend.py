"""Analyse a sweep's trials on a Ray cluster: one task per trial, rows streamed back as tasks finish.

For sweeps too large for one machine, or whose logs already sit on the cluster's shared storage.
Ray is optional (``pip install 'traintriage[ray]'``) and imported only here. ``address`` is passed to
``ray.init``: ``local`` starts a private local instance (stopped again at the end), ``auto`` joins the
cluster this machine belongs to, ``ray://host:10001`` connects a client to a remote one.

What a cluster needs: traintriage importable on every node (installed in the nodes' environment, or
through a runtime environment the cluster's owner sets up), and the trials' log paths readable at the
same paths on the nodes (a shared filesystem); each task checks
that its trial lies under the sweep's roots, as a local worker does. A task that fails (a node lost,
an import error on the node) becomes a row with the error.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from ..errors import InputError
from ..limits import check_budget
from .jobs import TrialJob
from .models import TrialRow
from .trial import analyze_trial, error_row


def _import_ray():
    try:
        import ray
    except ImportError:
        raise InputError(
            "--ray needs the 'ray' package, which is not installed in this environment.",
            hint="pip install 'traintriage[ray]' (or pip install ray), or drop --ray to use local processes.",
        ) from None
    return ray


def iter_ray(jobs: Sequence[TrialJob], *, address: str = "local") -> Iterator[TrialRow]:
    """Rows as the cluster finishes each trial (completion order)."""
    ray = _import_ray()
    if not jobs:
        return
    started_here = not ray.is_initialized()
    if started_here:
        try:
            ray.init(address=address, log_to_driver=False, include_dashboard=False, configure_logging=False)
        except Exception as err:  # wrong address, no cluster: an input problem, said plainly
            raise InputError(
                f"could not connect to Ray at {address!r} ({type(err).__name__}: {err}).",
                hint="Use --ray local for a private local instance, --ray auto inside a cluster, "
                "or ray://HOST:10001 for a remote one.",
            ) from None
    pending: list = []
    try:
        task = ray.remote(num_cpus=1, max_retries=1)(analyze_trial)
        refs = {task.remote(job): job for job in jobs}
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1, timeout=0.5)
            check_budget()  # a stopped server call ends here (see traintriage.limits)
            for ref in done:
                try:
                    yield ray.get(ref)
                except Exception as err:  # the task failed on the cluster: that trial's row says why
                    yield error_row(refs[ref], f"ray task failed ({type(err).__name__}: {err})")
    except BaseException:
        for ref in pending:  # stopped early: do not leave the cluster working for nobody
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
        raise
    finally:
        if started_here:
            ray.shutdown()
