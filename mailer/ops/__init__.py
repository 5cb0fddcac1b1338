"""Operations: logs, systemd notification, metrics and ``mailer doctor``.

May import: ``core``, ``config``, ``store``, ``transport``, ``daemon`` and the shared values;
never ``admin`` or ``cli``. ``ops.logs`` stays light: it loads neither the metrics server nor
prometheus_client, so every command starts fast.
"""
