"""Prometheus metrics and ``/healthz``: counters fed by log events, gauges from the store.

May import: ``mailer.store``, ``mailer.settings`` and the log vocabulary of ``mailer.model``.
"""
