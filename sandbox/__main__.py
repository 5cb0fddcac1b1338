"""``python -m sandbox start|stop|status DIR`` from the checkout's root."""

from sandbox.cli import main

raise SystemExit(main())
