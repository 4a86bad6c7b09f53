"""The Celery broker made unreachable, for the tests of what happens when Redis is down."""

from __future__ import annotations

import socket

import pytest


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again when the with block ends: connections are refused


@pytest.fixture
def broker_down():
    """Point the Celery app at a closed port: every publish fails as with a stopped Redis."""
    from tracing_center.celery import app

    # The producer pool caches a connection to the broker of an earlier publish: set it aside too.
    old_url, old_pool, old_producers = app.conf.broker_url, app._pool, app.amqp._producer_pool
    app.conf.broker_url = f"redis://127.0.0.1:{_closed_port()}/0"
    app._pool = None
    app.amqp._producer_pool = None
    try:
        yield
    finally:
        if app._pool is not None:
            app._pool.force_close_all()
        app.conf.broker_url, app._pool, app.amqp._producer_pool = old_url, old_pool, old_producers
