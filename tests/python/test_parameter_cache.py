"""Parameter sets are read and checked once per process (issue #11 item 4): crsim.Model and
crsim.simulate reuse the resolved set and the model's values while the set file and every layer it
extends are unchanged, and read them again when any of them changes."""
import json
import shutil
from pathlib import Path

import pytest

import crsim
from crsim import _core
from crsim.model import parameter_sets as _parameter_sets

ROOT = Path(__file__).resolve().parents[2]
SET = "crs_tisagenlecleucel_ball"


@pytest.fixture
def counted(monkeypatch):
    """Counts the calls into the C++ loader (load_parameter_set) and checker (parameters_from)."""
    calls = {"load_parameter_set": 0, "parameters_from": 0}
    for name in calls:
        real = getattr(_core, name)

        def wrapper(*args, _real=real, _name=name, **kwargs):
            calls[_name] += 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(_core, name, wrapper)
    return calls


@pytest.fixture
def data_copy(tmp_path, monkeypatch):
    """A copy of data/parameters as $CRSIM_DATA_DIR."""
    shutil.copytree(ROOT / "data" / "parameters", tmp_path / "parameters")
    monkeypatch.setenv("CRSIM_DATA_DIR", str(tmp_path))
    return tmp_path / "parameters"


def _edit(path: Path, section: str, name: str, value: float) -> None:
    d = json.loads(path.read_text())
    d[section][name]["value"] = value
    path.write_text(json.dumps(d, indent=1))  # another length: a new size whatever the clock


def test_the_set_is_read_and_checked_once(data_copy, counted):
    first = crsim.Model("crs", SET)
    assert counted == {"load_parameter_set": 1, "parameters_from": 1}
    for _ in range(5):
        m = crsim.Model("crs", SET)
        assert m.parameter_values == first.parameter_values
        assert m.parameters.equals(first.parameters)
    res = crsim.simulate("crs", times=[0.0, 1.0], weight=35, method="dopri5")
    assert res.parameters == first.parameter_values
    assert counted == {"load_parameter_set": 1, "parameters_from": 1}
    # values handed out are the caller's own
    m.parameter_values["rho"] = -1.0
    m._values["rho"] = -1.0
    assert crsim.Model("crs", SET).parameter_values["rho"] == first.parameter_values["rho"]


def test_an_edited_set_or_layer_is_read_again(data_copy, counted):
    rho = crsim.Model("crs", SET).parameter_values["rho"]
    _edit(data_copy / f"{SET}.json", "parameters", "rho", rho * 1.2345)
    m = crsim.Model("crs", SET)
    assert m.parameter_values["rho"] == pytest.approx(rho * 1.2345)
    assert m.parameters.set_index("name").loc["rho", "value"] == pytest.approx(rho * 1.2345)
    assert counted == {"load_parameter_set": 2, "parameters_from": 2}
    # a layer two levels down (drugs/tocilizumab.json, through "extends")
    cl = m.parameter_values["toc_CL"]
    _edit(data_copy / "drugs" / "tocilizumab.json", "parameters", "toc_CL", cl * 2.5)
    res = crsim.simulate("crs", times=[0.0, 1.0], weight=35)
    assert res.parameters["toc_CL"] == pytest.approx(cl * 2.5)
    assert counted == {"load_parameter_set": 3, "parameters_from": 3}
    # a value out of its bounds now is an error (the check runs again), and stays one
    _edit(data_copy / "drugs" / "tocilizumab.json", "parameters", "toc_CL", -1.0)
    for _ in range(2):
        with pytest.raises(crsim.InputError, match="toc_CL"):
            crsim.Model("crs", SET)


def test_a_deleted_layer_is_noticed(data_copy):
    crsim.Model("crs", SET)
    (data_copy / "drugs" / "siltuximab.json").unlink()
    with pytest.raises(crsim.InputError, match="drugs/siltuximab"):
        crsim.Model("crs", SET)


def test_sets_of_another_data_directory_are_not_mixed_up(data_copy, monkeypatch):
    edited = crsim.Model("crs", SET).parameter_values["rho"] * 3.0
    _edit(data_copy / f"{SET}.json", "parameters", "rho", edited)
    assert crsim.Model("crs", SET).parameter_values["rho"] == pytest.approx(edited)
    monkeypatch.delenv("CRSIM_DATA_DIR")
    assert crsim.Model("crs", SET).parameter_values["rho"] != pytest.approx(edited)


def test_files_of_follows_extends(data_copy):
    files = _parameter_sets._files_of(str(data_copy / f"{SET}.json"))
    ext = json.loads((data_copy / f"{SET}.json").read_text())["extends"]
    assert sorted(files[1:]) == sorted(str(data_copy / f"{e}.json") for e in ext)
