#include "crsim/registry.hpp"

#include "crsim/errors.hpp"

namespace crsim {

void Registry::add(const std::string& name, Factory factory) {
    std::lock_guard<std::mutex> lock(mutex_);
    factories_[name] = std::move(factory);
    instances_.erase(name);
}

std::vector<std::string> Registry::names() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::string> out;
    for (const auto& kv : factories_) out.push_back(kv.first);
    return out;
}

bool Registry::contains(const std::string& name) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return factories_.count(name) > 0;
}

std::shared_ptr<const Model> Registry::get(const std::string& name) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto inst = instances_.find(name);
    if (inst != instances_.end()) return inst->second;
    auto f = factories_.find(name);
    if (f == factories_.end()) {
        std::string known;
        for (const auto& kv : factories_) known += (known.empty() ? "" : ", ") + kv.first;
        throw InputError("model", "'" + name + "'", "one of {" + known + "}");
    }
    std::shared_ptr<const Model> m = f->second();
    instances_[name] = m;
    return m;
}

}  // namespace crsim
