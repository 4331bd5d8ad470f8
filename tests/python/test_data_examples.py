"""The example data sets in data/examples/ load, check against their models, and (PK) fit back to the
true values they were generated with (data/examples/README.md)."""
from pathlib import Path

import pytest

import crsim

EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "examples"
MODELS = {"pk1_oral_three_subjects.csv": "pk1_oral", "crs_patient_P01.csv": "crs"}


def test_every_example_file_is_listed():
    assert sorted(p.name for p in EXAMPLES.glob("*.csv")) == sorted(MODELS)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_example_checks_against_its_model(name):
    data = crsim.read_data(EXAMPLES / name)
    table = crsim.check_data(data, MODELS[name])
    assert len(table) > 10 and table["time_h"].min() >= 0
    assert set(table["unit"]) <= set(crsim.Model(MODELS[name]).units().values())


def test_pk_example_fits_back_to_the_truth():
    truth = {1: dict(ka=1.4, CL=2.6, V=35.0), 2: dict(ka=0.9, CL=3.8, V=52.0), 3: dict(ka=1.1, CL=3.1, V=44.0)}
    data = crsim.read_data(EXAMPLES / "pk1_oral_three_subjects.csv")
    fits = crsim.fit("pk1_oral", data, estimate=["ka", "CL", "V"], by="id")
    assert list(fits) == [1, 2, 3] and fits.summary["converged"].all()
    assert all(fits[i].data["censored"].sum() == 1 for i in truth)      # the 72 h sample is BLQ
    t = fits.table.set_index(["id", "parameter"])
    inside = sum(t.loc[(i, p), "ci_lower"] <= v <= t.loc[(i, p), "ci_upper"]
                 for i, ps in truth.items() for p, v in ps.items())
    assert inside >= 8   # of 9: 95 % intervals may miss one
    for i, ps in truth.items():
        for p, v in ps.items():
            assert t.loc[(i, p), "estimate"] == pytest.approx(v, rel=0.25)
