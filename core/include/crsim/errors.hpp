// crsim: the exception types every layer uses.
// InputError: the caller asked for something the model or engine cannot accept (names the field,
// the value and what is allowed). SolverError: integration failed (names the time reached, the last
// step size and the likely cause). IoError (below): a file could not be read or written.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace crsim {

class InputError : public std::invalid_argument {
public:
    InputError(const std::string& field, const std::string& value, const std::string& allowed)
        : std::invalid_argument(field + " = " + value + " is not allowed: " + allowed),
          field_(field) {}
    const std::string& field() const noexcept { return field_; }

    // The same error seen from an enclosing field: "policies[0].action." + "doses[1].amount".
    static InputError nested(const std::string& prefix, const InputError& inner) {
        return InputError(prefix + inner.field(), prefix + inner.what());
    }

private:
    InputError(const std::string& field, const std::string& message)
        : std::invalid_argument(message), field_(field) {}
    std::string field_;
};

class SolverError : public std::runtime_error {
public:
    SolverError(double t_reached, double step, const std::string& cause)
        : std::runtime_error(make_message(t_reached, step, cause)),
          t_reached_(t_reached), step_(step) {}
    double time_reached() const noexcept { return t_reached_; }
    double step_size() const noexcept { return step_; }

private:
    static std::string make_message(double t, double h, const std::string& cause) {
        std::ostringstream os;
        os.precision(10);
        os << "solver failed at t = " << t << " h (last step size " << h << " h): " << cause;
        return os.str();
    }
    double t_reached_;
    double step_;
};

// IoError: reading or writing a file failed (an HDF5 or file-system error, or a file that is not
// crsim's or has another schema version). The message names the path.
class IoError : public std::runtime_error {
public:
    IoError(const std::string& path, const std::string& message)
        : std::runtime_error(message), path_(path) {}
    const std::string& path() const noexcept { return path_; }

private:
    std::string path_;
};

// Formats a double for error messages (full precision, 'nan'/'inf' spelled out).
inline std::string fmt(double v) {
    std::ostringstream os;
    os.precision(12);
    os << v;
    return os.str();
}

}  // namespace crsim
