#include "crsim/interrupt.hpp"

#include <algorithm>

namespace crsim {

namespace {
// Requests made so far, and the count at the last clear_interrupt(). Counters (not a flag) so that
// a run knows which requests came after its start without anyone resetting a flag.
std::atomic<unsigned long> g_requested{0};
std::atomic<unsigned long> g_cleared{0};
static_assert(std::atomic<unsigned long>::is_always_lock_free,
              "request_interrupt must be async-signal-safe");
}  // namespace

void request_interrupt() noexcept { g_requested.fetch_add(1, std::memory_order_relaxed); }

void clear_interrupt() noexcept {
    g_cleared.store(g_requested.load(std::memory_order_relaxed), std::memory_order_relaxed);
}

InterruptToken::InterruptToken() noexcept : start_(g_requested.load(std::memory_order_relaxed)) {}

bool InterruptToken::requested() const noexcept {
    const unsigned long r = g_requested.load(std::memory_order_relaxed);
    return r > std::max(start_, g_cleared.load(std::memory_order_relaxed));
}

}  // namespace crsim
