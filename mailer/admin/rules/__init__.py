"""``mailer rules list|add|remove|move``: the rules file edited with its comments kept."""
