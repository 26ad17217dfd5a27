from shellvault.cli import main

raise SystemExit(main())
