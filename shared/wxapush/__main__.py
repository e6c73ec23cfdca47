"""``python -m wxapush``: the same as the ``wxapush`` command."""

from wxapush.cli import main

raise SystemExit(main())
