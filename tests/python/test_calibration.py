"""Calibration as code (scripts/calibrate.py, docs/calibration.md): the script's targets cite
publications, its metrics are computed from the model, the targets the model meets stay met, and
the values are pinned so that any change of the model's calibration shows here (a deliberate change
updates PINNED and docs/calibration.md with `scripts/calibrate.py --write`)."""
import importlib.util
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("calibrate", ROOT / "scripts" / "calibrate.py")
calibrate = importlib.util.module_from_spec(_spec)
sys.modules["calibrate"] = calibrate  # dataclasses look their module up while it executes
_spec.loader.exec_module(calibrate)

N = 100  # patients per product here (the docs' table uses 1,000)

#: the model's values when these pins were set (typical patient: 1e-3; populations of N: exact
#: fractions and medians to 1e-6 - the same seed gives the same patients)
PINNED = {
    "ck_tmax_d": 9.29, "ck_fold": 133.0, "ck_alpha": 0.0965, "ck_beta": 0.00901,
    "ck_fster": 1.0, "ck_ftoci": 1.0,
    "toc_cmax": 159.0, "toc_day7": 56.5, "toc_day14": 21.4,
}


@pytest.fixture(scope="module")
def values():
    out = {}
    out.update(calibrate.kinetics())
    out.update(calibrate.tocilizumab())
    out.update(calibrate.ck_default_spread(N))
    out.update(calibrate.populations(N))
    return out


def test_every_target_has_a_metric_a_source_and_a_tolerance(values):
    for t in calibrate.TARGETS:
        assert t.key in values, t.key
        assert t.lo <= t.hi and t.source.strip() and t.target.strip()
        assert not any(w in t.source for w in ("shared/science", "clinical.md", "drugs.md", "digest"))


def test_typical_patient_values_are_pinned(values):
    for key, want in PINNED.items():
        assert values[key] == pytest.approx(want, rel=3e-3), key


def test_what_was_met_stays_met(values):
    """The targets met when the calibration table was written (docs/calibration.md; here with
    populations of N patients); the misses (typical fold expansion and persistence, axi-cel incidence
    and grade >= 3; tisa-cel grade >= 3 and the Tmax spread sit at the edge of their tolerances and
    fall either side with the population size) are the open work of issue 15."""
    met = ["ck_tmax_d", "ck_alpha", "ck_sd_fold", "ck_sd_alpha", "ck_sd_beta", "ck_fster", "ck_ftoci",
           "tisa_any", "tisa_onset_d", "tisa_duration_d", "axi_onset_d", "axi_duration_d", "late_onset",
           "toc_cmax", "toc_day7", "toc_day14"]
    for t in calibrate.TARGETS:
        if t.key in met:
            assert calibrate.met(t, values[t.key]), (t.key, values[t.key], t.lo, t.hi)


def test_populations_ran_every_patient_within_the_bounds(values):
    """Patients drawn outside the model's bounds are refused (test_population_variability.py checks
    that every failure of a default population is such a refusal); they stay few."""
    assert values["tisa_failed"] < 0.1 and values["axi_failed"] < 0.15 and values["ck_refused"] < 0.1
    for key in ("tisa_any", "tisa_ge3", "axi_any", "axi_ge3"):
        assert 0.0 <= values[key] <= 1.0 and math.isfinite(values[key])


def test_table_marks_misses(values):
    text = calibrate.table(values, N)
    rows = [r for r in text.splitlines() if r.startswith("| ") and not r.startswith("| quantity")]
    assert len(rows) == len(calibrate.TARGETS)
    assert sum("| **no** |" in r for r in rows) == sum(
        calibrate.met(t, values[t.key]) is False for t in calibrate.TARGETS)


def test_docs_table_is_the_scripts_output():
    doc = (ROOT / "docs" / "calibration.md").read_text(encoding="utf-8")
    body = doc[doc.index(calibrate.BEGIN):doc.index(calibrate.END)]
    for t in calibrate.TARGETS:
        assert f"| {t.what} | {t.target} |" in body, t.key


def test_docs_steroid_table_has_every_row():
    """The prophylaxis predictions (docs/calibration.md, written by calibrate.py --write): every row
    for both calibrated sets, between the table's markers."""
    doc = (ROOT / "docs" / "calibration.md").read_text(encoding="utf-8")
    body = doc[doc.index(calibrate.S_BEGIN):doc.index(calibrate.S_END)]
    for label in ("tisa-cel B-ALL", "axi-cel LBCL"):
        for _, what, _ in calibrate.STEROID_ROWS:
            assert f"| {label} | {what} |" in body, (label, what)


def test_early_biomarker_predictions_are_computed_and_in_the_docs():
    """The early-biomarker table (docs/calibration.md, written by calibrate.py --write): every marker
    row between its markers, and the AUCs computed from a population lie in [0, 1] with severe and
    non-severe patients present."""
    v = calibrate.early_markers(60)
    assert 0.0 < v["severe"] < 1.0
    for m, _ in calibrate.EARLY_MARKERS:
        assert 0.0 <= v[f"auc_{m}"] <= 1.0, m
    doc = (ROOT / "docs" / "calibration.md").read_text(encoding="utf-8")
    body = doc[doc.index(calibrate.B_BEGIN):doc.index(calibrate.B_END)]
    for _, label in calibrate.EARLY_MARKERS:
        assert f"| {label} |" in body, label
