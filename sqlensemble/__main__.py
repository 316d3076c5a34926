from sqlensemble.cli import main

raise SystemExit(main())
