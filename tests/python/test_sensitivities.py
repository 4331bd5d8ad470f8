"""Forward sensitivities through the Python API: shapes and names, the one-compartment closed form,
and central finite differences on the nonlinear pk2_mm model."""
import numpy as np
import pytest

import crsim

TIGHT = dict(rtol=1e-10, atol=1e-12)


def test_shapes_names_and_units():
    t = np.linspace(0.5, 48, 30)
    r = crsim.simulate("pk2_mm", times=t, doses=[crsim.Dose("central", 100)],
                       sensitivities=["CL", "Vmax", "init:peripheral"])
    s = r.sensitivities()
    assert s.shape == (30, 6, 3) and s.values.shape == (30, 6, 3)
    assert s.outputs == r.variables
    assert s.parameters == ["CL", "Vmax", "init:peripheral"]
    assert s.parameter_units == ["L/h", "mg/h", "mg"]
    sub = r.sensitivities(["C"], "Vmax")
    assert sub.shape == (30, 1, 1) and sub.output_units == ["mg/L"]
    np.testing.assert_array_equal(sub.values[:, 0, 0], s["C", "Vmax"])
    long = s.to_pandas()
    assert long.shape == (30 * 6 * 3, 5)
    assert set(long.columns) == {"time_h", "output", "parameter", "value", "unit"}
    assert (long.query("output == 'C' and parameter == 'CL'")["unit"] == "mg/L/(L/h)").all()


def test_all_parameters_with_true():
    r = crsim.simulate("pk1", times=[1.0, 2.0], doses=[crsim.Dose("central", 1)], sensitivities=True)
    assert r.sensitivities().parameters == ["CL", "V"]


def test_errors():
    r = crsim.simulate("pk1", times=[1.0, 2.0], doses=[crsim.Dose("central", 1)], sensitivities=["CL"])
    with pytest.raises(crsim.InputError, match=r"parameters\[0\] = 'V'"):
        r.sensitivities(parameters=["V"])
    with pytest.raises(crsim.InputError, match=r"output_names\[0\] = 'X'"):
        r.sensitivities(["X"])
    plain = crsim.simulate("pk1", times=[1.0])
    with pytest.raises(crsim.InputError, match="sensitivities"):
        plain.sensitivities()


@pytest.mark.parametrize("method", ["rosenbrock4", "dopri5"])
def test_one_compartment_closed_form(method):
    # C = D/V exp(-CL t / V): dC/dCL = -t/V C, dC/dV = C (CL t / V^2 - 1/V).
    D, CL, V = 10.0, 14.7, 64.0
    t = np.linspace(0.5, 12, 20)
    r = crsim.simulate("pk1", times=t, doses=[crsim.Dose("central", D)], method=method,
                       sensitivities=["CL", "V"], **TIGHT)
    C = D / V * np.exp(-CL * t / V)
    s = r.sensitivities(["C"])
    np.testing.assert_allclose(s.values[:, 0, 0], -t / V * C, rtol=1e-6)
    np.testing.assert_allclose(s.values[:, 0, 1], C * (CL * t / V**2 - 1 / V), rtol=1e-6)


def test_finite_differences_on_michaelis_menten_model():
    t = np.linspace(1, 24 * 28, 40)
    doses = [crsim.Dose("central", 8, unit="mg/kg", duration=1, cap=800)]
    names = ["CL", "V1", "Q", "V2", "Vmax", "Km"]
    r = crsim.simulate("pk2_mm", times=t, doses=doses, weight=70, sensitivities=names, **TIGHT)
    s = r.sensitivities(["C", "peripheral", "eliminated_mm"])
    base = crsim.Model("pk2_mm").parameter_values
    for k, p in enumerate(names):
        h = 1e-4 * base[p]
        up = crsim.simulate("pk2_mm", times=t, doses=doses, weight=70,
                            parameters={p: base[p] + h}, **TIGHT)
        down = crsim.simulate("pk2_mm", times=t, doses=doses, weight=70,
                              parameters={p: base[p] - h}, **TIGHT)
        for j, out in enumerate(s.outputs):
            fd = (up[out] - down[out]) / (2 * h)
            scale = np.max(np.abs(fd))
            assert scale > 0
            # Central differences: truncation O(h^2), rounding ~ rtol * |y| / h.
            np.testing.assert_allclose(s.values[:, j, k], fd, rtol=0, atol=2e-5 * scale,
                                       err_msg=f"d{out}/d{p}")
