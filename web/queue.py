"""Reach the worker by task name only (``send_task``): web never imports worker."""

from __future__ import annotations

from celery import Celery
from flask import current_app

from web.models import LIVE_QUEUE

GRADE_TASK = "worker.tasks.grade"

_clients: dict[str, Celery] = {}


def _client() -> Celery:
    url = current_app.config["REDIS_URL"]
    if url not in _clients:
        _clients[url] = Celery("backprop-web", broker=url, set_as_current=False)
        _clients[url].conf.broker_connection_retry_on_startup = True
    return _clients[url]


def enqueue_grading(grading_id: int, queue: str = LIVE_QUEUE) -> None:
    """Send the task of a grading that is already committed, on its queue (live or bulk).

    Raises when the broker is unreachable; the grading stays ``queued`` in the database
    and the reconciler sends it again, so nothing is lost.
    """
    _client().send_task(GRADE_TASK, args=[grading_id], queue=queue)


def live_workers(timeout: float = 1.0) -> list[dict[str, object]] | None:
    """Return the live grading workers with their active task counts (Celery inspect), or
    None when the broker cannot be asked. Waits up to ``timeout`` seconds for replies."""
    try:
        inspect = _client().control.inspect(timeout=timeout)
        active = inspect.active() or {}
    except Exception:  # broker down or unreachable: say "unknown", never a 500
        return None
    return [{"name": name, "active": len(tasks or [])} for name, tasks in sorted(active.items())]
