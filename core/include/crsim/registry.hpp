// crsim: a name -> model registry. Models are immutable after construction, so one shared
// instance per name serves every simulation and thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "crsim/model.hpp"
#include "crsim/model_impl.hpp"

namespace crsim {

class Registry {
public:
    using Factory = std::function<std::unique_ptr<Model>()>;

    void add(const std::string& name, Factory factory);
    template <class D>
    void add() {
        add(D::info().name, [] { return std::unique_ptr<Model>(new ModelImpl<D>()); });
    }
    std::vector<std::string> names() const;
    bool contains(const std::string& name) const;
    // The shared model instance; unknown names throw InputError listing the known ones.
    std::shared_ptr<const Model> get(const std::string& name) const;

private:
    std::map<std::string, Factory> factories_;
    mutable std::map<std::string, std::shared_ptr<const Model>> instances_;
    mutable std::mutex mutex_;
};

}  // namespace crsim
