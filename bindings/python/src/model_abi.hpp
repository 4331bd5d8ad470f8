// crsim: the ABI string of a user-model library (crsim/_usermodels.py compiles users' models at run
// time into shared libraries that crsim._core loads). A library is loaded only when the string it
// was compiled with equals the extension's: the crsim version, the compiler and its C++ library, and
// the layout version of the model interface (bump kLayout when Model, ModelInfo or ModelImpl change
// in a way a stale library could not follow; the cache key covers the headers' content as well).
// Installed with the package as crsim/include/crsim/model_abi.hpp; the library's translation unit
// defines CRSIM_VERSION from crsim.__version__.
#pragma once

#include <cstddef>  // defines __GLIBCXX__ / _LIBCPP_VERSION

#ifndef CRSIM_VERSION
#error "CRSIM_VERSION must be defined (the crsim version the model library is compiled for)"
#endif

#define CRSIM_MODEL_ABI_LAYOUT "3"

#define CRSIM_ABI_STR2(x) #x
#define CRSIM_ABI_STR(x) CRSIM_ABI_STR2(x)

#if defined(__clang__)
#define CRSIM_ABI_COMPILER "clang " __clang_version__
#elif defined(__GNUC__)
#define CRSIM_ABI_COMPILER "gcc " __VERSION__
#else
#define CRSIM_ABI_COMPILER "unknown compiler"
#endif

#if defined(_LIBCPP_VERSION)
#define CRSIM_ABI_STDLIB "libc++ " CRSIM_ABI_STR(_LIBCPP_VERSION)
#elif defined(__GLIBCXX__)
#define CRSIM_ABI_STDLIB "libstdc++ cxx11-abi=" CRSIM_ABI_STR(_GLIBCXX_USE_CXX11_ABI)
#else
#define CRSIM_ABI_STDLIB "unknown C++ library"
#endif

#define CRSIM_MODEL_ABI \
    "crsim " CRSIM_VERSION "; " CRSIM_ABI_COMPILER "; " CRSIM_ABI_STDLIB "; layout " CRSIM_MODEL_ABI_LAYOUT
