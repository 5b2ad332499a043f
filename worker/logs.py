"""A log filter that stamps every record with the current task id and grading id."""

from __future__ import annotations

import logging

from celery import current_task


class TaskFilter(logging.Filter):
    """Add ``task_id`` and ``grading_id`` to log records (``-`` outside a task)."""

    def filter(self, record: logging.LogRecord) -> bool:
        task = current_task
        request = getattr(task, "request", None)
        record.task_id = getattr(request, "id", None) or "-"
        args = getattr(request, "args", None) or ()
        record.grading_id = args[0] if args else "-"
        return True


def install() -> None:
    """Attach the filter and a format that shows both ids to the root handlers."""
    fmt = logging.Formatter("%(asctime)s %(levelname)s [task %(task_id)s grading "
                            "%(grading_id)s] %(name)s: %(message)s")
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    for handler in root.handlers:
        handler.addFilter(TaskFilter())
        handler.setFormatter(fmt)
    root.setLevel(logging.INFO)
