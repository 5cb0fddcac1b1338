"""Test and demo equipment, not part of the product: real Dovecot and Postfix on loopback.

The wheel does not carry it; the tests and ``scripts/demo.sh`` use it from a checkout
(``python -m sandbox start|stop|status DIR``, ``python -m sandbox.demo``). It may import
mailer; nothing in mailer imports it.
"""
