"""The command line: argparse front for the daemon's and the admin's commands.

The top of the tree: it may import every other package of mailer, and nothing imports it
(``python -m mailer`` and the ``mailer`` script call ``mailer.cli.main.main``).
"""
