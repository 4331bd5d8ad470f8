#include "hdf5_io.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>

#include "crsim/errors.hpp"

namespace crsim::h5 {

namespace {

// Datasets with fewer elements than this are stored contiguous and uncompressed.
constexpr hsize_t kChunkThreshold = 64;
// Target chunk size in elements (64 KiB of doubles).
constexpr hsize_t kChunkElements = 8192;
constexpr unsigned kDeflateLevel = 4;

herr_t collect_error(unsigned n, const H5E_error2_t* err, void* data) {
    auto* out = static_cast<std::vector<std::string>*>(data);
    if (n < 3 && err->desc && *err->desc) out->emplace_back(err->desc);
    return 0;
}

// The innermost HDF5 error messages of this thread's stack (then cleared).
std::string hdf5_details() {
    std::vector<std::string> msgs;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, collect_error, &msgs);
    H5Eclear2(H5E_DEFAULT);
    std::string s;
    for (const auto& m : msgs) s += (s.empty() ? "" : "; ") + m;
    return s.empty() ? "no details" : s;
}

std::string squote_(const std::string& s) { return "'" + s + "'"; }

herr_t collect_attr_name(hid_t, const char* name, const H5A_info_t*, void* data) {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
}

}  // namespace

std::mutex& mutex() {
    static std::mutex m;
    return m;
}

ErrorSilencer::ErrorSilencer() {
    H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}
ErrorSilencer::~ErrorSilencer() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }

Handle vlen_string_type() {
    Handle t(H5Tcopy(H5T_C_S1), H5Tclose);
    if (t.get() < 0 || H5Tset_size(t.get(), H5T_VARIABLE) < 0 ||
        H5Tset_cset(t.get(), H5T_CSET_UTF8) < 0)
        throw IoError("", "cannot create the HDF5 string type (HDF5: " + hdf5_details() + ")");
    return t;
}

void File::fail(const std::string& what) const {
    throw IoError(path, path + ": " + what + " (HDF5: " + hdf5_details() + ")");
}
void File::bad(const std::string& what) const { throw IoError(path, path + ": " + what); }

void File::check_elements(hsize_t n, const std::string& obj_path) const {
    if (n > max_elements)
        bad(squote_(obj_path) + " declares " + std::to_string(n) + " elements, more than a file of this size can "
            "hold (at most " + std::to_string(max_elements) + "): the file is damaged or crafted");
}

// --- writing ---------------------------------------------------------------------------------------

Handle File::create_group(hid_t loc, const std::string& name, const std::string& obj_path,
                          bool track_order) const {
    Handle gcpl(check(H5Pcreate(H5P_GROUP_CREATE), "cannot create a property list"), H5Pclose);
    check(H5Pset_attr_creation_order(gcpl.get(), H5P_CRT_ORDER_TRACKED), "cannot set attribute order of", obj_path);
    if (track_order)
        check(H5Pset_link_creation_order(gcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
              "cannot set link creation order on", obj_path);
    return Handle(check(H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT),
                        "cannot create group '" + obj_path + "'"),
                  H5Gclose);
}

namespace {
Handle make_attr(const File& f, hid_t obj, const std::string& name, hid_t type, hid_t space) {
    return Handle(f.check(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT),
                          "cannot create attribute '" + name + "'"),
                  H5Aclose);
}
Handle scalar_space(const File& f) {
    return Handle(f.check(H5Screate(H5S_SCALAR), "cannot create a dataspace"), H5Sclose);
}
}  // namespace

void File::attr(hid_t obj, const std::string& name, const std::string& value) const {
    Handle type = vlen_string_type();
    Handle space = scalar_space(*this);
    Handle a = make_attr(*this, obj, name, type.get(), space.get());
    const char* p = value.c_str();
    check(H5Awrite(a.get(), type.get(), &p), "cannot write attribute", name);
}

void File::attr(hid_t obj, const std::string& name, const std::vector<std::string>& values) const {
    Handle type = vlen_string_type();
    const hsize_t n = values.size();
    Handle space(check(H5Screate_simple(1, &n, nullptr), "cannot create a dataspace"), H5Sclose);
    Handle a = make_attr(*this, obj, name, type.get(), space.get());
    std::vector<const char*> ptrs;
    for (const auto& v : values) ptrs.push_back(v.c_str());
    if (n > 0) check(H5Awrite(a.get(), type.get(), ptrs.data()), "cannot write attribute", name);
}

void File::attr(hid_t obj, const std::string& name, double value) const {
    Handle space = scalar_space(*this);
    Handle a = make_attr(*this, obj, name, H5T_IEEE_F64LE, space.get());
    check(H5Awrite(a.get(), H5T_NATIVE_DOUBLE, &value), "cannot write attribute", name);
}

void File::attr(hid_t obj, const std::string& name, const std::vector<double>& values) const {
    const hsize_t n = values.size();
    Handle space(check(H5Screate_simple(1, &n, nullptr), "cannot create a dataspace"), H5Sclose);
    Handle a = make_attr(*this, obj, name, H5T_IEEE_F64LE, space.get());
    if (n > 0) check(H5Awrite(a.get(), H5T_NATIVE_DOUBLE, values.data()), "cannot write attribute", name);
}

void File::attr_i64(hid_t obj, const std::string& name, std::int64_t value) const {
    Handle space = scalar_space(*this);
    Handle a = make_attr(*this, obj, name, H5T_STD_I64LE, space.get());
    check(H5Awrite(a.get(), H5T_NATIVE_INT64, &value), "cannot write attribute", name);
}

void File::attr_u64(hid_t obj, const std::string& name, std::uint64_t value) const {
    Handle space = scalar_space(*this);
    Handle a = make_attr(*this, obj, name, H5T_STD_U64LE, space.get());
    check(H5Awrite(a.get(), H5T_NATIVE_UINT64, &value), "cannot write attribute", name);
}

namespace {
// Dataset creation properties: chunked along the first axis (whole rows) with shuffle + deflate
// when the dataset holds at least kChunkThreshold elements.
Handle creation_plist(const File& f, const std::vector<hsize_t>& dims, const std::string& obj_path) {
    Handle dcpl(f.check(H5Pcreate(H5P_DATASET_CREATE), "cannot create a property list"), H5Pclose);
    // Tracked attribute order gives the object the 1.8 header, whose attributes may be large.
    f.check(H5Pset_attr_creation_order(dcpl.get(), H5P_CRT_ORDER_TRACKED), "cannot set attribute order of",
            obj_path);
    hsize_t total = 1;
    for (hsize_t d : dims) total *= d;
    if (dims.empty() || total < kChunkThreshold) return dcpl;
    hsize_t row = 1;
    for (std::size_t i = 1; i < dims.size(); ++i) row *= dims[i];
    std::vector<hsize_t> chunk(dims);
    chunk[0] = std::max<hsize_t>(1, std::min<hsize_t>(dims[0], kChunkElements / row));
    f.check(H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data()),
            "cannot set chunking of", obj_path);
    if (H5Zfilter_avail(H5Z_FILTER_SHUFFLE) > 0)
        f.check(H5Pset_shuffle(dcpl.get()), "cannot set the shuffle filter of", obj_path);
    if (H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0)
        f.check(H5Pset_deflate(dcpl.get(), kDeflateLevel), "cannot set compression of", obj_path);
    return dcpl;
}
}  // namespace

Handle File::dataset(hid_t loc, const std::string& name, const std::string& obj_path,
                     const double* data, const std::vector<hsize_t>& shape) const {
    Handle space(check(H5Screate_simple(static_cast<int>(shape.size()), shape.data(), nullptr),
                       "cannot create a dataspace for '" + obj_path + "'"),
                 H5Sclose);
    Handle dcpl = creation_plist(*this, shape, obj_path);
    Handle d(check(H5Dcreate2(loc, name.c_str(), H5T_IEEE_F64LE, space.get(), H5P_DEFAULT,
                              dcpl.get(), H5P_DEFAULT),
                   "cannot create dataset '" + obj_path + "'"),
             H5Dclose);
    hsize_t total = 1;
    for (hsize_t s : shape) total *= s;
    if (total > 0)
        check(H5Dwrite(d.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, data),
              "cannot write dataset", obj_path);
    return d;
}

Handle File::compound_dataset(hid_t loc, const std::string& name, const std::string& obj_path,
                              hid_t ftype, hid_t mtype, const void* data, hsize_t n) const {
    Handle space(check(H5Screate_simple(1, &n, nullptr), "cannot create a dataspace"), H5Sclose);
    Handle dcpl = creation_plist(*this, {n}, obj_path);
    Handle d(check(H5Dcreate2(loc, name.c_str(), ftype, space.get(), H5P_DEFAULT, dcpl.get(),
                              H5P_DEFAULT),
                   "cannot create dataset '" + obj_path + "'"),
             H5Dclose);
    if (n > 0)
        check(H5Dwrite(d.get(), mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "cannot write dataset",
              obj_path);
    return d;
}

// --- reading ---------------------------------------------------------------------------------------

bool File::has_link(hid_t loc, const std::string& name) const {
    const htri_t r = H5Lexists(loc, name.c_str(), H5P_DEFAULT);
    if (r < 0) fail("cannot look up '" + name + "'");
    return r > 0;
}

bool File::has_attr(hid_t obj, const std::string& name) const {
    const htri_t r = H5Aexists(obj, name.c_str());
    if (r < 0) fail("cannot look up attribute '" + name + "'");
    return r > 0;
}

namespace {
void require_hard_link(const File& f, hid_t loc, const std::string& name, const std::string& obj_path) {
    H5L_info_t info;
    if (H5Lget_info(loc, name.c_str(), &info, H5P_DEFAULT) < 0) f.fail("cannot look up '" + obj_path + "'");
    if (info.type != H5L_TYPE_HARD)
        f.bad("'" + obj_path + "' is a " + (info.type == H5L_TYPE_SOFT ? "soft" : "external") +
              " link; crsim results files hold no links (refused: it could lead to another file)");
}
}  // namespace

Handle File::open_group(hid_t loc, const std::string& name, const std::string& obj_path) const {
    if (!has_link(loc, name)) bad("missing group '" + obj_path + "'");
    require_hard_link(*this, loc, name, obj_path);
    return Handle(check(H5Gopen2(loc, name.c_str(), H5P_DEFAULT), "cannot open group '" + obj_path + "'"),
                  H5Gclose);
}

Handle File::open_dataset(hid_t loc, const std::string& name, const std::string& obj_path) const {
    if (!has_link(loc, name)) bad("missing dataset '" + obj_path + "'");
    require_hard_link(*this, loc, name, obj_path);
    Handle d(check(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), "cannot open dataset '" + obj_path + "'"),
             H5Dclose);
    Handle dcpl(check(H5Dget_create_plist(d.get()), "cannot query dataset '" + obj_path + "'"), H5Pclose);
    const int external = H5Pget_external_count(dcpl.get());
    if (external != 0)
        bad("dataset '" + obj_path + "' keeps its data in external files; refused (crsim writes none)");
    if (H5Pget_layout(dcpl.get()) == H5D_VIRTUAL)
        bad("dataset '" + obj_path + "' is a virtual dataset; refused (crsim writes none)");
    return d;
}

std::vector<std::string> File::link_names(hid_t group, const std::string& obj_path) const {
    H5G_info_t info;
    check(H5Gget_info(group, &info), "cannot query group", obj_path);
    Handle gcpl(check(H5Gget_create_plist(group), "cannot query group '" + obj_path + "'"), H5Pclose);
    unsigned flags = 0;
    check(H5Pget_link_creation_order(gcpl.get(), &flags), "cannot query group", obj_path);
    const H5_index_t index = (flags & H5P_CRT_ORDER_INDEXED) ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME;
    std::vector<std::string> names;
    for (hsize_t i = 0; i < info.nlinks; ++i) {
        const ssize_t len =
            H5Lget_name_by_idx(group, ".", index, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
        if (len < 0) fail("cannot list group '" + obj_path + "'");
        std::string name(static_cast<std::size_t>(len) + 1, '\0');
        if (H5Lget_name_by_idx(group, ".", index, H5_ITER_INC, i, &name[0], name.size(),
                               H5P_DEFAULT) < 0)
            fail("cannot list group '" + obj_path + "'");
        name.resize(static_cast<std::size_t>(len));
        names.push_back(name);
    }
    return names;
}

std::vector<std::string> File::attr_names(hid_t obj, const std::string& obj_path) const {
    std::vector<std::string> names;
    check(H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_attr_name, &names),
          "cannot list the attributes of", obj_path);
    return names;
}

namespace {
Handle open_attr(const File& f, hid_t obj, const std::string& name, const std::string& obj_path) {
    if (!f.has_attr(obj, name)) f.bad("missing attribute '" + name + "' of '" + obj_path + "'");
    return Handle(f.check(H5Aopen(obj, name.c_str(), H5P_DEFAULT),
                          "cannot open attribute '" + name + "' of '" + obj_path + "'"),
                  H5Aclose);
}
}  // namespace

H5T_class_t File::attr_class(hid_t obj, const std::string& name, const std::string& obj_path) const {
    Handle a = open_attr(*this, obj, name, obj_path);
    Handle t(check(H5Aget_type(a.get()), "cannot query attribute '" + name + "'"), H5Tclose);
    return H5Tget_class(t.get());
}

std::vector<std::string> File::read_strings(hid_t obj, const std::string& name,
                                            const std::string& obj_path) const {
    const std::string what = "attribute '" + name + "' of '" + obj_path + "'";
    Handle a = open_attr(*this, obj, name, obj_path);
    // Read with the stored type itself (no character-set conversion), variable or fixed length.
    Handle t(check(H5Aget_type(a.get()), "cannot query " + what), H5Tclose);
    if (H5Tget_class(t.get()) != H5T_STRING) bad(what + " is not a string");
    Handle s(check(H5Aget_space(a.get()), "cannot query " + what), H5Sclose);
    const hssize_t n = H5Sget_simple_extent_npoints(s.get());
    if (n < 0) fail("cannot query " + what);
    check_elements(static_cast<hsize_t>(n), obj_path + "@" + name);
    std::vector<std::string> out;
    if (n == 0) return out;
    const htri_t variable = H5Tis_variable_str(t.get());
    if (variable < 0) fail("cannot query " + what);
    if (variable > 0) {
        std::vector<char*> ptrs(static_cast<std::size_t>(n), nullptr);
        check(H5Aread(a.get(), t.get(), ptrs.data()), "cannot read", what);
        for (char* p : ptrs) {
            out.emplace_back(p ? p : "");
            if (p) H5free_memory(p);
        }
    } else {
        const std::size_t size = H5Tget_size(t.get());
        check_elements(static_cast<hsize_t>(size) * static_cast<hsize_t>(n) / 8, obj_path + "@" + name);
        std::vector<char> buf(size * static_cast<std::size_t>(n) + 1, '\0');
        check(H5Aread(a.get(), t.get(), buf.data()), "cannot read", what);
        for (hssize_t i = 0; i < n; ++i) {
            const char* p = buf.data() + static_cast<std::size_t>(i) * size;
            out.emplace_back(p, strnlen(p, size));
        }
    }
    return out;
}

std::string File::read_string(hid_t obj, const std::string& name, const std::string& obj_path) const {
    auto v = read_strings(obj, name, obj_path);
    if (v.size() != 1) bad("attribute '" + name + "' of '" + obj_path + "' is not a single string");
    return v[0];
}

namespace {
template <class T>
T read_scalar(const File& f, hid_t obj, const std::string& name, const std::string& obj_path,
              hid_t mtype, H5T_class_t wanted, const char* kind) {
    const std::string what = "attribute '" + name + "' of '" + obj_path + "'";
    Handle a = open_attr(f, obj, name, obj_path);
    Handle t(f.check(H5Aget_type(a.get()), "cannot query " + what), H5Tclose);
    const H5T_class_t cls = H5Tget_class(t.get());
    if (cls != wanted && !(wanted == H5T_FLOAT && cls == H5T_INTEGER))
        f.bad(what + " is not " + kind);
    Handle s(f.check(H5Aget_space(a.get()), "cannot query " + what), H5Sclose);
    if (H5Sget_simple_extent_npoints(s.get()) != 1) f.bad(what + " is not a single value");
    T v{};
    f.check(H5Aread(a.get(), mtype, &v), "cannot read", what);
    return v;
}
}  // namespace

double File::read_double(hid_t obj, const std::string& name, const std::string& obj_path) const {
    return read_scalar<double>(*this, obj, name, obj_path, H5T_NATIVE_DOUBLE, H5T_FLOAT, "a number");
}
std::vector<double> File::read_doubles_attr(hid_t obj, const std::string& name,
                                            const std::string& obj_path) const {
    const std::string what = "attribute '" + name + "' of '" + obj_path + "'";
    Handle a = open_attr(*this, obj, name, obj_path);
    Handle t(check(H5Aget_type(a.get()), "cannot query " + what), H5Tclose);
    const H5T_class_t cls = H5Tget_class(t.get());
    if (cls != H5T_FLOAT && cls != H5T_INTEGER) bad(what + " is not numeric");
    Handle s(check(H5Aget_space(a.get()), "cannot query " + what), H5Sclose);
    if (H5Sget_simple_extent_ndims(s.get()) > 1) bad(what + " is not one-dimensional");
    const hssize_t n = H5Sget_simple_extent_npoints(s.get());
    if (n < 0) fail("cannot query " + what);
    check_elements(static_cast<hsize_t>(n), obj_path + "@" + name);
    std::vector<double> v(static_cast<std::size_t>(n));
    if (n > 0) check(H5Aread(a.get(), H5T_NATIVE_DOUBLE, v.data()), "cannot read", what);
    return v;
}

std::int64_t File::read_i64(hid_t obj, const std::string& name, const std::string& obj_path) const {
    return read_scalar<std::int64_t>(*this, obj, name, obj_path, H5T_NATIVE_INT64, H5T_INTEGER,
                                     "an integer");
}
std::uint64_t File::read_u64(hid_t obj, const std::string& name, const std::string& obj_path) const {
    return read_scalar<std::uint64_t>(*this, obj, name, obj_path, H5T_NATIVE_UINT64, H5T_INTEGER,
                                      "an integer");
}

std::vector<hsize_t> File::dims(hid_t dset, const std::string& obj_path) const {
    Handle s(check(H5Dget_space(dset), "cannot query dataset '" + obj_path + "'"), H5Sclose);
    const int rank = H5Sget_simple_extent_ndims(s.get());
    if (rank < 0) fail("cannot query dataset '" + obj_path + "'");
    std::vector<hsize_t> d(static_cast<std::size_t>(rank));
    if (rank > 0 && H5Sget_simple_extent_dims(s.get(), d.data(), nullptr) < 0)
        fail("cannot query dataset '" + obj_path + "'");
    return d;
}

std::vector<double> File::read_doubles(hid_t dset, const std::string& obj_path) const {
    Handle t(check(H5Dget_type(dset), "cannot query dataset '" + obj_path + "'"), H5Tclose);
    const H5T_class_t cls = H5Tget_class(t.get());
    if (cls != H5T_FLOAT && cls != H5T_INTEGER) bad("dataset '" + obj_path + "' is not numeric");
    hsize_t total = 1;
    for (hsize_t d : dims(dset, obj_path)) {
        if (d != 0 && total > std::numeric_limits<hsize_t>::max() / d)  // overflows 64 bits
            bad(squote_(obj_path) + " declares more than 2^64 elements: the file is damaged or crafted");
        total *= d;
    }
    check_elements(total, obj_path);
    std::vector<double> v(static_cast<std::size_t>(total));
    if (total > 0)
        check(H5Dread(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()),
              "cannot read dataset", obj_path);
    return v;
}

void File::read_compound(hid_t dset, hid_t mtype, void* data, const std::string& obj_path) const {
    check(H5Dread(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "cannot read dataset", obj_path);
}

}  // namespace crsim::h5
