from nndl.cli import main

raise SystemExit(main())
