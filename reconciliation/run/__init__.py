"""The run's own files: its scratch directory and the parse a passed gate keeps for the reconcile step."""
