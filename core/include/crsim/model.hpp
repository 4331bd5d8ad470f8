// crsim: the model interface.
//
// A model is a C++ type D that declares its metadata and writes its right-hand side once, as a
// template over the scalar type:
//
//   struct MyModel {
//       static constexpr int n_states = 2;
//       static ModelInfo info();                                       // states, parameters, observables
//       template <class T> static void initial(const T* p, T* x0);     // x(0) from parameters
//       template <class T> static void rhs(const T& t, const T* x, const T* p, T* dxdt);
//       template <class T> static void observables(const T& t, const T* x, const T* p, T* y);
//   };
//
// ModelImpl<D> (model_impl.hpp) turns that into a Model: doubles for the plain right-hand side,
// Eigen AutoDiffScalar for the Jacobian and for forward sensitivities. Nothing here knows IL-6.
#pragma once

#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace crsim {

struct StateInfo {
    std::string name;
    std::string unit;
    std::string description;
    // Doses: empty dose_unit means the state does not take doses. Otherwise a dose of `a` (in
    // dose_unit) adds a * dose_scale * p[dose_scale_param]^dose_scale_power to the state (in unit);
    // dose_scale_param = -1 means no parameter enters the conversion (e.g. mg -> nmol uses the
    // molecular weight parameter with power -1 and scale 1e6).
    std::string dose_unit;
    double dose_scale = 1.0;
    int dose_scale_param = -1;
    double dose_scale_power = 1.0;
};

struct ParameterInfo {
    std::string name;
    std::string unit;
    double value = 0.0;  // default
    double lower = 0.0;  // inclusive bounds of admissible values
    double upper = std::numeric_limits<double>::infinity();
    std::string description;
    std::string source;  // citation, or "modelling choice: <reason>"
};

struct ObservableInfo {
    std::string name;
    std::string unit;
    std::string description;
};

struct ModelInfo {
    std::string name;
    std::string description;
    std::string version = "1";
    std::vector<StateInfo> states;
    std::vector<ParameterInfo> parameters;
    std::vector<ObservableInfo> observables;
    std::vector<std::string> sources;
    // When the model's parameter values live in a data file (data/parameters/<stem>.json) rather
    // than in C++, ParameterInfo::value is NaN and this names the default set's file stem.
    std::string default_parameter_set;
};

class Model {
public:
    explicit Model(ModelInfo info);
    virtual ~Model() = default;
    Model(const Model&) = delete;
    Model& operator=(const Model&) = delete;

    const ModelInfo& info() const noexcept { return info_; }
    const std::string& name() const noexcept { return info_.name; }
    int n_states() const noexcept { return static_cast<int>(info_.states.size()); }
    int n_parameters() const noexcept { return static_cast<int>(info_.parameters.size()); }
    int n_observables() const noexcept { return static_cast<int>(info_.observables.size()); }

    // Index lookups; unknown names throw InputError naming the field and listing what exists.
    int state_index(const std::string& name, const std::string& field = "state") const;
    int parameter_index(const std::string& name, const std::string& field = "parameter") const;
    int observable_index(const std::string& name, const std::string& field = "observable") const;

    std::vector<double> default_parameters() const;
    // Defaults with the given overrides applied; each override is checked (known name, finite,
    // within [lower, upper]).
    std::vector<double> parameters_with(const std::map<std::string, double>& overrides) const;
    // Checks a full parameter vector (size, finiteness, bounds).
    void check_parameters(const std::vector<double>& p) const;

    // State units per dose unit for a dose into state i, and its derivative with respect to the
    // parameter it depends on (0 if none).
    double dose_factor(int state, const double* p) const;
    double dose_factor_derivative(int state, const double* p) const;

    // --- numerical interface (implemented by ModelImpl<D>) -----------------------------------
    virtual void initial(const double* p, double* x0) const = 0;
    // dx0/dp for the parameters pidx[0..m) (an entry -1 contributes a zero column); row-major n x m.
    virtual void initial_sensitivity(const double* p, const int* pidx, int m, double* dx0) const = 0;
    virtual void rhs(double t, const double* x, const double* p, double* dxdt) const = 0;
    // J row-major n x n, dfdt length n.
    virtual void jacobian(double t, const double* x, const double* p, double* J, double* dfdt) const = 0;
    // The "prepare" stage: the right-hand side's parameter-only quantities q (n_prepared() values),
    // computed once per parameter vector by prepare(p, q); rhs_prepared and jacobian_prepared then
    // give exactly what rhs and jacobian give for p (the same floating-point operations), without
    // recomputing q on every call. A model without a prepare stage has n_prepared() = 0 and the
    // prepared calls forward to the plain ones.
    virtual int n_prepared() const { return 0; }
    virtual void prepare(const double* p, double* q) const { (void)p; (void)q; }
    virtual void rhs_prepared(double t, const double* x, const double* p, const double* q,
                              double* dxdt) const {
        (void)q;
        rhs(t, x, p, dxdt);
    }
    virtual void jacobian_prepared(double t, const double* x, const double* p, const double* q,
                                   double* J, double* dfdt) const {
        (void)q;
        jacobian(t, x, p, J, dfdt);
    }
    // The observables from the same prepared values (generated models hoist the observables'
    // parameter-only quantities into q too): exactly what observables gives.
    virtual void observables_prepared(double t, const double* x, const double* p, const double* q,
                                      double* y) const {
        (void)q;
        observables(t, x, p, y);
    }
    // The entries (row i, column j) of J = df/dx that can be nonzero for some t, x and parameters
    // (the structural sparsity pattern, from the model source for generated models), in row-major
    // order; every entry for a model that declares none. The Rosenbrock stepper permutes and
    // factors its stage matrix by it (core/src/block_lu.hpp). Entries outside it must be exactly 0.
    virtual std::vector<std::pair<int, int>> jacobian_pattern() const;
    virtual void observables(double t, const double* x, const double* p, double* y) const = 0;
    // Forward sensitivity system. S is row-major n x m (dx_i/dtheta_k); column k is the
    // sensitivity to parameter pidx[k] (or, when pidx[k] = -1, to an initial value, which enters
    // only through S(0)). dS = J S + df/dp.
    virtual void sensitivity_rhs(double t, const double* x, const double* S, const double* p,
                                 const int* pidx, int m, double* f, double* dS) const = 0;
    // Coupling of the sensitivity equations to the state: the directional derivative
    //   out = d/de [J S + df/dp](t + e vt, x + e v)      (row-major n x m)
    // at fixed S. The Jacobian of the coupled system z = [x; vec(S)] is block lower triangular with
    // df/dx on its diagonal; this gives its off-diagonal blocks applied to v (vt = 0) and the
    // sensitivity part of dz/dt (v = 0, vt = 1) without forming them.
    virtual void sensitivity_coupling(double t, const double* z, const double* p, const int* pidx,
                                      int m, const double* v, double vt, double* out) const = 0;
    // Observables and their sensitivities dy/dtheta (row-major n_obs x m).
    virtual void observables_sensitivity(double t, const double* x, const double* S,
                                         const double* p, const int* pidx, int m, double* y,
                                         double* dy) const = 0;

private:
    ModelInfo info_;
};

}  // namespace crsim
