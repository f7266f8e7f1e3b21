from protein.cli import main

raise SystemExit(main())
