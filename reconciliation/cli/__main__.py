"""``python -m reconciliation.cli`` runs the ``recon`` command (the same exit path as the executable)."""

from reconciliation.cli import entry

entry()
