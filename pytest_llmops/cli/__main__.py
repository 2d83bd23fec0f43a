from pytest_llmops.cli import main

raise SystemExit(main())
