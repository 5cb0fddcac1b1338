"""``mailer rules replay PATH``: the rules run over past mail, with a report."""
