"""AM Cash point-of-sale reconciliation: the core library.

Importable without Airflow: the DAGs in ``dags/`` and the ``recon`` command
are thin layers over this package.
"""

__version__ = "0.1.0"
