"""Registers the AM Cash reconciliation workbench with Airflow's plugins manager.

``amcash_plugin/`` is skipped by the plugins manager (see ``.airflowignore``:
it is a package the DAG imports), so this one top-level module hands the
plugin class over; the class and the app live in ``amcash_plugin.workbench``.
"""

from __future__ import annotations

from amcash_plugin.workbench.plugin import AmcashReconciliationPlugin

__all__ = ["AmcashReconciliationPlugin"]
