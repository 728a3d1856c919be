from mayday.cli import main

raise SystemExit(main())
