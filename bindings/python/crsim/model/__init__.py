"""crsim.model — models and what is known about them: ``Model`` (the engine's description, parameter
sets in layers), users' own models compiled from Antimony/SBML, SBML export, per-model extensions
(registry of the ``crsim.models`` entry point), standard strategies by name, drug and variable names
of text regimens and policy conditions, citations, shipped examples."""
