from kubedeck.cli import main

raise SystemExit(main())
