"""``python -m reconciliation.cli`` runs the ``recon`` command."""

from reconciliation.cli import main

raise SystemExit(main())
