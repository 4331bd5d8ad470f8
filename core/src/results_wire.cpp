// crsim results files: a ResultsFile as bytes between two processes (see results_wire.hpp).
#include "results_wire.hpp"

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "crsim/errors.hpp"

namespace crsim::wire {

namespace {

constexpr char kMagic[8] = {'c', 'r', 's', 'i', 'm', 'w', '1', '\0'};

class Writer {
public:
    std::string out;

    template <class T>
    void pod(const T& v) {
        static_assert(std::is_trivially_copyable<T>::value, "plain values only");
        out.append(reinterpret_cast<const char*>(&v), sizeof v);
    }
    void size(std::size_t n) { pod(static_cast<std::uint64_t>(n)); }
    void str(const std::string& s) {
        size(s.size());
        out.append(s);
    }
    void strs(const std::vector<std::string>& v) {
        size(v.size());
        for (const auto& s : v) str(s);
    }
    void doubles(const std::vector<double>& v) {
        size(v.size());
        out.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(double));
    }
    template <class V>
    void map(const std::map<std::string, V>& m) {
        size(m.size());
        for (const auto& kv : m) {
            str(kv.first);
            if constexpr (std::is_same<V, std::string>::value)
                str(kv.second);
            else
                pod(kv.second);
        }
    }
};

class Reader {
public:
    Reader(const std::string& bytes, const std::string& path) : b_(bytes), path_(path) {}

    template <class T>
    T pod() {
        static_assert(std::is_trivially_copyable<T>::value, "plain values only");
        need(sizeof(T));
        T v;
        std::memcpy(&v, b_.data() + pos_, sizeof v);
        pos_ += sizeof v;
        return v;
    }
    // A count of items of at least `item_bytes` each: never more than the bytes left can hold.
    std::size_t size(std::size_t item_bytes) {
        const auto n = pod<std::uint64_t>();
        if (item_bytes > 0 && n > (b_.size() - pos_) / item_bytes) bad();
        return static_cast<std::size_t>(n);
    }
    std::string str() {
        const std::size_t n = size(1);
        std::string s = b_.substr(pos_, n);
        pos_ += n;
        return s;
    }
    std::vector<std::string> strs() {
        std::vector<std::string> v(size(sizeof(std::uint64_t)));
        for (auto& s : v) s = str();
        return v;
    }
    std::vector<double> doubles() {
        std::vector<double> v(size(sizeof(double)));
        if (!v.empty()) std::memcpy(v.data(), b_.data() + pos_, v.size() * sizeof(double));
        pos_ += v.size() * sizeof(double);
        return v;
    }
    template <class V>
    std::map<std::string, V> map() {
        std::map<std::string, V> m;
        for (std::size_t i = 0, n = size(sizeof(std::uint64_t)); i < n; ++i) {
            std::string k = str();
            if constexpr (std::is_same<V, std::string>::value)
                m[k] = str();
            else
                m[k] = pod<V>();
        }
        return m;
    }
    void magic() {
        need(sizeof kMagic);
        if (std::memcmp(b_.data() + pos_, kMagic, sizeof kMagic) != 0) bad();
        pos_ += sizeof kMagic;
    }
    void end() const {
        if (pos_ != b_.size()) bad();
    }

private:
    void need(std::size_t n) const {
        if (n > b_.size() - pos_) bad();
    }
    [[noreturn]] void bad() const {
        throw IoError(path_, path_ + ": the separate process that read the file returned an incomplete or "
                                     "malformed answer (" + std::to_string(b_.size()) +
                                     " bytes); crsim does not read the file");
    }
    const std::string& b_;
    const std::string& path_;
    std::size_t pos_ = 0;
};

}  // namespace

std::string encode(const ResultsFile& file) {
    Writer w;
    w.out.append(kMagic, sizeof kMagic);
    w.pod(static_cast<std::int64_t>(file.meta.schema_version));
    w.str(file.meta.crsim_version);
    w.str(file.meta.created);
    w.map(file.meta.attributes);
    w.str(file.meta.integrity);
    w.size(file.scenarios.size());
    for (const ResultRecord& r : file.scenarios) {
        w.str(r.name);
        w.str(r.model_name);
        w.str(r.model_version);
        w.str(r.scenario_json);
        w.pod(static_cast<std::uint8_t>(r.seed.has_value()));
        w.pod(r.seed.value_or(0));
        w.strs(r.state_names);
        w.strs(r.state_units);
        w.strs(r.state_dose_units);
        w.strs(r.observable_names);
        w.strs(r.observable_units);
        w.strs(r.parameter_names);
        w.strs(r.parameter_units);
        w.doubles(r.parameter_values);

        const SolverOptions& s = r.solver;
        w.pod(static_cast<std::int64_t>(s.method));
        w.pod(s.rtol);
        w.pod(s.atol);
        w.pod(static_cast<std::int64_t>(s.max_steps));
        w.pod(s.max_step);
        w.pod(s.initial_step);
        w.pod(static_cast<std::uint8_t>(s.sensitivity_error_control));

        const Trajectory& t = r.trajectory;
        w.doubles(t.times);
        w.doubles(t.states);
        w.doubles(t.observables);
        w.strs(t.sensitivity_names);
        w.doubles(t.state_sensitivities);
        w.doubles(t.observable_sensitivities);
        w.size(t.doses.size());
        for (const DoseEvent& e : t.doses) {
            w.pod(static_cast<std::int64_t>(e.state));
            w.pod(e.time);
            w.pod(e.amount);
            w.pod(e.rate);
            w.pod(e.end);
        }
        const SolverStats& st = t.stats;
        for (long v : {st.steps, st.rhs_evaluations, st.jacobian_evaluations, st.restarts, st.rejected_steps,
                       st.dopri5_steps, st.rosenbrock4_steps})
            w.pod(static_cast<std::int64_t>(v));
        w.size(st.switches.size());
        for (const MethodSwitch& m : st.switches) {
            w.pod(m.time);
            w.pod(static_cast<std::int64_t>(m.to));
        }
        w.map(r.readouts);
        w.map(r.readout_units);
        w.map(r.readout_labels);
    }
    return std::move(w.out);
}

ResultsFile decode(const std::string& bytes, const std::string& path) {
    Reader in(bytes, path);
    in.magic();
    ResultsFile file;
    file.meta.schema_version = static_cast<int>(in.pod<std::int64_t>());
    file.meta.crsim_version = in.str();
    file.meta.created = in.str();
    file.meta.attributes = in.map<std::string>();
    file.meta.integrity = in.str();
    file.scenarios.resize(in.size(4 * sizeof(std::uint64_t)));
    for (ResultRecord& r : file.scenarios) {
        r.name = in.str();
        r.model_name = in.str();
        r.model_version = in.str();
        r.scenario_json = in.str();
        const bool has_seed = in.pod<std::uint8_t>() != 0;
        const auto seed = in.pod<std::uint64_t>();
        if (has_seed) r.seed = seed;
        r.state_names = in.strs();
        r.state_units = in.strs();
        r.state_dose_units = in.strs();
        r.observable_names = in.strs();
        r.observable_units = in.strs();
        r.parameter_names = in.strs();
        r.parameter_units = in.strs();
        r.parameter_values = in.doubles();

        SolverOptions& s = r.solver;
        s.method = static_cast<Method>(in.pod<std::int64_t>());
        s.rtol = in.pod<double>();
        s.atol = in.pod<double>();
        s.max_steps = static_cast<long>(in.pod<std::int64_t>());
        s.max_step = in.pod<double>();
        s.initial_step = in.pod<double>();
        s.sensitivity_error_control = in.pod<std::uint8_t>() != 0;

        Trajectory& t = r.trajectory;
        t.times = in.doubles();
        t.states = in.doubles();
        t.observables = in.doubles();
        t.sensitivity_names = in.strs();
        t.state_sensitivities = in.doubles();
        t.observable_sensitivities = in.doubles();
        t.doses.resize(in.size(5 * sizeof(double)));
        for (DoseEvent& e : t.doses) {
            e.state = static_cast<int>(in.pod<std::int64_t>());
            e.time = in.pod<double>();
            e.amount = in.pod<double>();
            e.rate = in.pod<double>();
            e.end = in.pod<double>();
        }
        SolverStats& st = t.stats;
        for (long* v : {&st.steps, &st.rhs_evaluations, &st.jacobian_evaluations, &st.restarts, &st.rejected_steps,
                        &st.dopri5_steps, &st.rosenbrock4_steps})
            *v = static_cast<long>(in.pod<std::int64_t>());
        st.switches.resize(in.size(2 * sizeof(double)));
        for (MethodSwitch& m : st.switches) {
            m.time = in.pod<double>();
            m.to = static_cast<Method>(in.pod<std::int64_t>());
        }
        r.readouts = in.map<double>();
        r.readout_units = in.map<std::string>();
        r.readout_labels = in.map<std::string>();
    }
    in.end();
    return file;
}

}  // namespace crsim::wire
