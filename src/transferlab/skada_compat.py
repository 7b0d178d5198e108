"""Import skada without changing scikit-learn for the rest of the process.

``import skada`` (0.6) calls ``sklearn.set_config(enable_metadata_routing=True)``: from then on
every scikit-learn call in the process routes metadata, and the project's own weighted fits
(``pipeline.fit(X, y, logisticregressioncv__sample_weight=w)``) raise. transferlab calls skada's
adapters and scorers directly (``fit`` / ``transform`` / ``compute_weights`` with
``sample_domain``), which needs no routing, so the setting is put back as it was.
"""

from __future__ import annotations

from types import ModuleType

from transferlab.errors import InputError


def import_skada() -> ModuleType:
    """The ``skada`` module, with scikit-learn's metadata-routing setting left as it was."""
    import sklearn

    routing = sklearn.get_config()["enable_metadata_routing"]
    try:
        import skada
    except ImportError as exc:
        raise InputError("domain adaptation needs skada: pip install 'skada>=0.6,<0.7'") from exc
    finally:
        sklearn.set_config(enable_metadata_routing=routing)
    return skada
