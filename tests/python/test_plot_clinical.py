"""The clinical course figure (Result.plot(), crsim.plot, crsim run --plot): the model's panels with
readable labels and units, log axes where values span decades, the ASTCT grader's thresholds, the
grade as a step panel, a marker per administration (policy doses outlined red), the scenario as
title, several results overlaid with a legend. Checked on the figure's content, not its pixels."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import crsim  # noqa: E402


@pytest.fixture(scope="module")
def default():
    return crsim.Scenario.from_file(crsim.example("default"))


@pytest.fixture(scope="module")
def runs(default):
    return (crsim.simulate(default),
            crsim.simulate(default.replace(policies=["tocilizumab_grade2"])))


def _hlines(ax):
    return sorted(float(line.get_ydata()[0]) for line in ax.get_lines()
                  if len(set(np.atleast_1d(line.get_ydata()))) == 1 and len(line.get_ydata()) == 2)


def _markers(ax):
    return [line for line in ax.get_lines() if line.get_marker() == "v"]


def test_crs_figure_panels_labels_scales_thresholds(runs):
    res = runs[0]
    fig = res.plot()
    axes = [a for a in fig.axes if a.get_ylabel()]
    labels = [a.get_ylabel() for a in axes]
    assert labels[:3] == ["CAR-T in blood (cells/µL)", "tumour cells (cells)", "IFN-γ, IL-6 (pg/mL)"]
    assert "ferritin (ng/mL)" in labels and "ASTCT grade" in labels
    by_label = dict(zip(labels, axes))
    for log in ("CAR-T in blood (cells/µL)", "tumour cells (cells)", "IFN-γ, IL-6 (pg/mL)"):
        assert by_label[log].get_yscale() == "log"
    assert by_label["temperature (°C)"].get_yscale() == "linear"
    assert 38.0 in _hlines(by_label["temperature (°C)"])          # the ASTCT fever threshold
    assert 65.0 in _hlines(by_label["MAP (mmHg)"])
    assert {0.21, 0.4} <= set(_hlines(by_label["FiO₂ needed"]))
    grade = by_label["ASTCT grade"]
    assert list(grade.get_yticks()) == [0, 1, 2, 3, 4]               # integer grades only
    drawn = max(float(np.max(line.get_ydata())) for line in grade.get_lines())
    assert drawn == res.readouts["max_grade"]
    assert fig._suptitle.get_text() == "default"
    assert grade.get_xlabel() == "time (days)"          # the bottom panel (twin axes come last)
    assert len(_markers(axes[0])) == len(res.doses)                 # the CAR-T infusion
    plt.close(fig)


def test_overlay_two_results_with_legend_and_policy_markers(runs):
    a, b = runs
    fig = crsim.plot({"untreated": a, "tocilizumab at grade 2": b})
    legend = fig.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == ["untreated", "tocilizumab at grade 2"]
    top = fig.axes[0]
    marks = _markers(top)
    assert len(marks) == len(a.doses) + len(b.doses)
    red = [m for m in marks if matplotlib.colors.same_color(m.get_markeredgecolor(), "red")]
    assert len(red) == len(b.firings) >= 1                          # the policy's doses
    temp = next(ax for ax in fig.axes if ax.get_ylabel() == "temperature (°C)")
    colours = {matplotlib.colors.to_hex(line.get_color()) for line in temp.get_lines()
               if len(line.get_ydata()) > 2}
    assert len(colours) == 2
    plt.close(fig)


def test_variables_and_log_options(runs):
    res = runs[0]
    fig = res.plot(["il6", "crp"], log=True)
    axes = [a for a in fig.axes if a.get_ylabel()]
    assert [a.get_ylabel() for a in axes] == ["IL-6 (pg/mL)", "CRP (mg/L)"]
    assert all(a.get_yscale() == "log" for a in axes)
    plt.close(fig)
    fig = crsim.plot(res, log=False)
    assert all(a.get_yscale() == "linear" for a in fig.axes)
    plt.close(fig)
    with pytest.raises(crsim.InputError, match="log"):
        res.plot(log="yes")
    with pytest.raises(crsim.InputError, match="variables"):
        res.plot(["no_such_variable"])


def test_results_of_different_models_are_refused(runs):
    pk = crsim.simulate("pk2_mm", doses=[crsim.Dose("central", 560)], weight=70, days=7)
    with pytest.raises(crsim.InputError, match=r"results\[1\]"):
        crsim.plot([runs[0], pk])
    with pytest.raises(crsim.InputError, match="labels"):
        crsim.plot(list(runs), labels=["one"])


def test_a_model_without_panels_gets_one_panel_per_variable():
    res = crsim.simulate("pk2_mm", doses=[crsim.Dose("central", 560)], weight=70, days=7)
    fig = res.plot()
    assert [a.get_ylabel() for a in fig.axes] == [f"{n} ({u})" if u not in ("", "1") else n
                                                  for n, u in ((n, res.units[n])
                                                               for n in res.default_plot_variables)]
    assert len(_markers(fig.axes[0])) == 1
    plt.close(fig)


def test_tce_figure_has_the_grade_and_the_engager_on_log_axes():
    res = crsim.simulate(crsim.Scenario("tce", name="mosun", horizon_days=10, outputs={"step_h": 1},
                                        regimen=["mosunetuzumab 1 mg iv over 4h"]))
    fig = res.plot()
    axes = [a for a in fig.axes if a.get_ylabel()]
    assert axes[0].get_ylabel() == "engager (ng/mL)" and axes[0].get_yscale() == "log"
    assert "ASTCT grade" in [a.get_ylabel() for a in axes]
    assert fig._suptitle.get_text() == "mosun"
    plt.close(fig)
