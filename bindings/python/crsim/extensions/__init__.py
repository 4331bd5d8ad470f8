"""The extensions of crsim's built-in models, one subpackage per model (``crsim.extensions.<model>``
exposing ``EXTENSION``), registered under the model's name in the entry-point group
``crsim.models`` (pyproject.toml) and looked up by :func:`crsim.model.extension.extension`. Plug-ins: they may use any layer of the
package; no layer imports them (tests/python/test_import_layers.py)."""
