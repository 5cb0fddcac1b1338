from mailer.cli.main import main

raise SystemExit(main())
