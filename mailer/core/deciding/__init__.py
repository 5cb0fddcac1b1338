"""Deciding: what a message is and what happens to its request.

The rules and their text matching, the decision table for new mail, staff keywords and
the workflow's table of moves, what a person's reply does to a conversation, ratings.

May import: ``mailer.core.reading`` and the shared values.
"""
