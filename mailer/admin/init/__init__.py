"""``mailer init``: a new config, rules file and templates written into a directory."""
