"""Matching and classification (spec §4 and §5), as pure functions over frames.

``engine.reconcile`` takes the candidate records of one sponsor-day (this
day's records plus re-entering pending ones) and the warehouse history it
needs, and returns matches, breaks, record dispositions and the status
changes of earlier breaks. It never touches the warehouse itself.

Where to look: ``candidates`` pairs the records (steps 1-5), ``rules``
holds one named function per break type (``RULES``), ``outcomes`` records
where each record ended, and ``limit`` is the cross-sponsor daily limit.
"""
