// crsim._core: users' own models. crsim/_usermodels.py compiles a model source (Antimony or SBML)
// into a shared library exporting two C functions (models/codegen/cpp.py, emit_source(export_c=True)):
//   crsim::Model* crsim_create_model();   a new ModelImpl<the user's model type>
//   const char* crsim_model_abi();        the CRSIM_MODEL_ABI string it was compiled with
// load_model_library() dlopen()s it, refuses a library of another ABI (model_abi.hpp) and registers
// the model in the process-wide registry under its name, next to the built-in models. A library
// stays loaded for the life of the process: model objects made from it (held by runs, possibly on
// other threads) keep code of the library. Loading a model under the name of a user model loaded
// before replaces it for new runs; names of built-in models are refused.
#include <dlfcn.h>

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "crsim/errors.hpp"
#include "crsim/models/builtin.hpp"
#include "model_abi.hpp"

namespace py = pybind11;

namespace {

using CreateFn = crsim::Model* (*)();
using AbiFn = const char* (*)();

std::mutex g_mutex;
std::map<std::string, std::string> g_user_models;  // name -> library path

// The built-in models' names, taken before any user model is registered (at module import).
const std::set<std::string>& builtin_names() {
    static const std::set<std::string> names = [] {
        const auto v = crsim::models::builtin_registry().names();
        return std::set<std::string>(v.begin(), v.end());
    }();
    return names;
}

std::string join(const std::set<std::string>& names) {
    std::string s;
    for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
    return s;
}

std::string load_model_library(const std::string& path) {
    const auto& builtins = builtin_names();
    std::lock_guard<std::mutex> lock(g_mutex);
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char* err = dlerror();
        throw crsim::InputError("model library", "'" + path + "'",
                                std::string("a loadable shared library (") + (err ? err : "dlopen failed") + ")");
    }
    // Nothing made from the library yet: on any refusal it can be unloaded again.
    struct Closer {
        void* h;
        ~Closer() { if (h) dlclose(h); }
    } closer{handle};
    auto abi = reinterpret_cast<AbiFn>(dlsym(handle, "crsim_model_abi"));
    auto create = reinterpret_cast<CreateFn>(dlsym(handle, "crsim_create_model"));
    if (!abi || !create)
        throw crsim::InputError("model library", "'" + path + "'",
                                "a crsim model library (exporting crsim_model_abi and crsim_create_model)");
    const std::string got = abi();
    if (got != CRSIM_MODEL_ABI)
        throw crsim::InputError("model library ABI", "'" + got + "' (" + path + ")",
                                "'" CRSIM_MODEL_ABI "': the library was compiled for another crsim "
                                "version, compiler or model layout; recompile the model (crsim does "
                                "so by itself for its cache)");
    std::string name;
    {
        std::unique_ptr<crsim::Model> probe(create());
        name = probe->name();
    }
    if (builtins.count(name))
        throw crsim::InputError("model name", "'" + name + "'",
                                "a name other than a built-in model's {" + join(builtins) +
                                    "}: rename the model (Antimony 'model <name>()' or "
                                    "'//@ model name=...')");
    crsim::models::builtin_registry().add(
        name, [create] { return std::unique_ptr<crsim::Model>(create()); });
    g_user_models[name] = path;
    closer.h = nullptr;  // registered: the library stays loaded
    return name;
}

}  // namespace

void bind_model_library(py::module_& m) {
    builtin_names();
    m.attr("MODEL_ABI") = CRSIM_MODEL_ABI;
    m.def("load_model_library", &load_model_library, py::arg("path"),
          "Loads a user-model library compiled by crsim (crsim/_usermodels.py), checks its ABI "
          "string against MODEL_ABI and registers its model under the model's name (replacing a "
          "user model of that name; a built-in model's name raises InputError). Returns the name.");
    m.def("user_models", [] {
        std::lock_guard<std::mutex> lock(g_mutex);
        return g_user_models;
    }, "The user models loaded in this process: name -> library path.");
    m.def("builtin_models", [] {
        const auto& b = builtin_names();
        return std::vector<std::string>(b.begin(), b.end());
    }, "Names of the models built into crsim (without the user models loaded).");
}
