// crsim (private): a thin RAII layer over the HDF5 C API used by hdf5.cpp. Every failure becomes a
// crsim::IoError naming the file and the object, with the innermost HDF5 error messages appended.
// Uses only functions that exist unchanged in HDF5 1.10 to 1.14 (no H5Oget_info / H5Literate /
// H5Dvlen_reclaim / H5Fis_hdf5, whose signatures or status changed).
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace crsim::h5 {

// Serialises crsim's HDF5 calls (the error-reporting state is process-wide).
std::mutex& mutex();

// While alive: HDF5's automatic error printing is off (restored afterwards).
class ErrorSilencer {
public:
    ErrorSilencer();
    ~ErrorSilencer();
    ErrorSilencer(const ErrorSilencer&) = delete;
    ErrorSilencer& operator=(const ErrorSilencer&) = delete;

private:
    H5E_auto2_t func_ = nullptr;
    void* data_ = nullptr;
};

// An owned HDF5 identifier with its close function.
class Handle {
public:
    using Closer = herr_t (*)(hid_t);
    Handle() = default;
    Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
    ~Handle() { reset(); }
    Handle(Handle&& o) noexcept : id_(o.id_), closer_(o.closer_) { o.id_ = -1; }
    Handle& operator=(Handle&& o) noexcept {
        if (this != &o) {
            reset();
            id_ = o.id_;
            closer_ = o.closer_;
            o.id_ = -1;
        }
        return *this;
    }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    hid_t get() const noexcept { return id_; }
    // Closes now; returns the close function's status.
    herr_t close() noexcept {
        herr_t r = 0;
        if (id_ >= 0) r = closer_(id_);
        id_ = -1;
        return r;
    }

private:
    void reset() noexcept { close(); }
    hid_t id_ = -1;
    Closer closer_ = nullptr;
};

// The most elements (numbers, strings, dose rows x 5) one read allocates: 2^31, 16 GiB of doubles.
constexpr hsize_t kMaxReadElements = hsize_t(1) << 31;

// The context of one file operation: the path named in messages.
struct File {
    std::string path;  // shown in messages (the final path for writes)
    Handle handle;
    hsize_t max_elements = kMaxReadElements;  // reading: the most elements a dataset may declare
    hid_t id() const noexcept { return handle.get(); }

    // Throws IoError "<path>: <what> (HDF5: <innermost messages>)" and clears the error stack.
    [[noreturn]] void fail(const std::string& what) const;
    // Throws IoError "<path>: <what>" (no HDF5 details; for content problems).
    [[noreturn]] void bad(const std::string& what) const;
    // Refuses a dataset or attribute declaring more than max_elements elements (before allocating).
    void check_elements(hsize_t n, const std::string& obj_path) const;
    hid_t check(hid_t id, const std::string& what) const {
        if (id < 0) fail(what);
        return id;
    }
    void check(herr_t status, const char* what, const std::string& obj) const {
        if (status < 0) fail(std::string(what) + " '" + obj + "'");
    }

    // --- writing -------------------------------------------------------------------------------
    // A group; with track_order its links are indexed by creation order.
    Handle create_group(hid_t loc, const std::string& name, const std::string& obj_path,
                        bool track_order = false) const;
    void attr(hid_t obj, const std::string& name, const std::string& value) const;
    void attr(hid_t obj, const std::string& name, const std::vector<std::string>& values) const;
    void attr(hid_t obj, const std::string& name, double value) const;
    void attr(hid_t obj, const std::string& name, const std::vector<double>& values) const;
    void attr_i64(hid_t obj, const std::string& name, std::int64_t value) const;
    void attr_u64(hid_t obj, const std::string& name, std::uint64_t value) const;
    // A float64 dataset of shape `dims` from row-major `data`; chunked and compressed (shuffle +
    // deflate) when it holds more than a handful of elements.
    Handle dataset(hid_t loc, const std::string& name, const std::string& obj_path, const double* data,
                   const std::vector<hsize_t>& dims) const;
    // A dataset of a compound memory type `mtype` (file type `ftype`), n records.
    Handle compound_dataset(hid_t loc, const std::string& name, const std::string& obj_path,
                            hid_t ftype, hid_t mtype, const void* data, hsize_t n) const;

    // --- reading -------------------------------------------------------------------------------
    bool has_link(hid_t loc, const std::string& name) const;
    bool has_attr(hid_t obj, const std::string& name) const;
    // Hard links only (a soft or external link, which could lead to another file, is refused);
    // datasets with external raw-data files or virtual layout are refused too.
    Handle open_group(hid_t loc, const std::string& name, const std::string& obj_path) const;
    Handle open_dataset(hid_t loc, const std::string& name, const std::string& obj_path) const;
    // Link names of a group, in creation order when it is tracked, else in name order.
    std::vector<std::string> link_names(hid_t group, const std::string& obj_path) const;
    std::vector<std::string> attr_names(hid_t obj, const std::string& obj_path) const;
    H5T_class_t attr_class(hid_t obj, const std::string& name, const std::string& obj_path) const;
    std::string read_string(hid_t obj, const std::string& name, const std::string& obj_path) const;
    std::vector<std::string> read_strings(hid_t obj, const std::string& name,
                                          const std::string& obj_path) const;
    double read_double(hid_t obj, const std::string& name, const std::string& obj_path) const;
    // A one-dimensional numeric attribute (any length, converted to float64).
    std::vector<double> read_doubles_attr(hid_t obj, const std::string& name, const std::string& obj_path) const;
    std::int64_t read_i64(hid_t obj, const std::string& name, const std::string& obj_path) const;
    std::uint64_t read_u64(hid_t obj, const std::string& name, const std::string& obj_path) const;
    std::vector<hsize_t> dims(hid_t dset, const std::string& obj_path) const;
    // Whole float64 dataset (converted from any float/integer type), row-major.
    std::vector<double> read_doubles(hid_t dset, const std::string& obj_path) const;
    void read_compound(hid_t dset, hid_t mtype, void* data, const std::string& obj_path) const;
};

// Variable-length UTF-8 string type (caller owns the handle).
Handle vlen_string_type();

}  // namespace crsim::h5
