"""One Great Expectations context per process, created on first use.

The context is ephemeral: no project directory, no cloud, no usage
statistics. Importing GX takes seconds, so the import happens here, inside
:func:`gx_context`, the first time a file is validated, never when the DAG
or the command line merely imports the package.

Two settings of GX's pandas engine are adjusted, both measured (see
``benchmarks/quality_bench.py`` and docs/data-quality.md):

* GX fingerprints every in-memory batch by hashing the whole DataFrame
  (``HASH_THRESHOLD``), twice per validation. On a million records with
  Arrow-backed strings that is several seconds of pure overhead; the file's
  SHA-256 already identifies the data, so fingerprinting is turned off.
* Progress bars are off: they only clutter the logs of a nightly job.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

DATASOURCE = "amcash"
ASSET = "records"
BATCH = "whole_file"

#: GX contexts are not thread-safe; validations in one process take turns.
GX_LOCK = threading.RLock()


@dataclass(frozen=True)
class GxHandles:
    """What the gate needs from the context.

    Attributes:
        context: The ephemeral ``DataContext``.
        batch_definition: Whole-DataFrame batch definition of the in-memory asset.
    """

    context: Any
    batch_definition: Any


def quiet_gx() -> None:
    """Environment GX must see before it is imported: no analytics, no network calls home."""
    os.environ["GX_ANALYTICS_ENABLED"] = "false"


def gx_context() -> GxHandles:
    """The process's GX context, with one pandas datasource for in-memory records."""
    with GX_LOCK:
        return _create()


@functools.cache
def _create() -> GxHandles:
    quiet_gx()
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.execution_engine import pandas_execution_engine

    if hasattr(pandas_execution_engine, "HASH_THRESHOLD"):
        pandas_execution_engine.HASH_THRESHOLD = 0  # no fingerprint hashing (see module doc)
    else:  # pragma: no cover - a GX upgrade moved it; validation stays correct, only slower
        log.warning("GX no longer has HASH_THRESHOLD; in-memory batches are hashed again")
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    datasource = context.data_sources.add_pandas(DATASOURCE)
    asset = datasource.add_dataframe_asset(ASSET)
    return GxHandles(context, asset.add_batch_definition_whole_dataframe(BATCH))
