"""The Celery application, configured from the web app (``celery -A worker.celery_app``)."""

from __future__ import annotations

from celery import Celery, Task

from web import config, create_app
from web.models import LIVE_QUEUE

flask_app = create_app()


class AppContextTask(Task):
    """Run every task inside the Flask app context, and leave no session behind."""

    def __call__(self, *args, **kwargs):
        from web.db import db

        with flask_app.app_context():
            try:
                return self.run(*args, **kwargs)
            finally:
                db.session.remove()


celery = Celery("backprop", task_cls=AppContextTask, include=["worker.tasks"])
celery.conf.update(
    broker_url=flask_app.config["REDIS_URL"],
    broker_connection_retry_on_startup=True,
    # A message is acknowledged only after its task finished, and requeued if the process
    # running it dies: a kill -9 mid-grading loses nothing.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    task_default_queue=LIVE_QUEUE,
    task_time_limit=config.TASK_TIME_LIMIT,
    task_soft_time_limit=config.TASK_SOFT_TIME_LIMIT,
    # Redis redelivers an unacknowledged message after this long: far above the hard limit,
    # or a long task would run twice. The reconciler covers dead workers much sooner.
    # "priority": a worker consuming several queues always asks them in the order it was
    # given (live, maintenance, bulk), so a student's submission never waits behind a
    # 500-file batch: at worst behind the gradings already running.
    broker_transport_options={"visibility_timeout": 4 * config.TASK_TIME_LIMIT,
                              "queue_order_strategy": "priority"},
    task_serializer="json",
    accept_content=["json"],
    worker_hijack_root_logger=False,
    beat_schedule={
        "reconcile-stuck-submissions": {
            "task": "worker.tasks.reconcile",
            "schedule": flask_app.config["RECONCILE_EVERY"],
            # Its own queue: a grading backlog must not delay (and expire) the reconciler.
            "options": {"queue": "maintenance",
                        "expires": flask_app.config["RECONCILE_EVERY"]},
        },
    },
)

app = celery
