// crsim._core: Ctrl-C stops crsim's C++ runs (crsim/interrupt.hpp).
//
// While a run integrates with the GIL released, Python's own SIGINT handler cannot run (it runs
// between bytecodes of the main thread), so the run would ignore Ctrl-C. At import, if SIGINT is
// handled by Python (not ignored, not the default action), a C-level handler is put in front of
// Python's: it calls crsim::request_interrupt() and then Python's handler, so every run in progress
// stops at its next step and Python raises KeyboardInterrupt as usual. A run stopped this way ends
// in crsim::Interrupted, which becomes whatever Python's SIGINT handler raises (KeyboardInterrupt by
// default), or KeyboardInterrupt when it raises nothing (another thread, a custom handler).
// If Python code later sets its own SIGINT handler (signal.signal), Python's C handler replaces
// this one: call _core.install_sigint_handler() again, or request_interrupt() from the handler.
#include <pybind11/pybind11.h>
#include <signal.h>

#include <exception>

#include "crsim/interrupt.hpp"

namespace py = pybind11;

namespace {

struct sigaction g_previous {};

void on_sigint(int sig, siginfo_t* info, void* ctx) {
    crsim::request_interrupt();
    if (g_previous.sa_flags & SA_SIGINFO) {
        if (g_previous.sa_sigaction) g_previous.sa_sigaction(sig, info, ctx);
    } else if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN && g_previous.sa_handler) {
        g_previous.sa_handler(sig);
    }
}

// Puts on_sigint in front of the current SIGINT handler; false (nothing changed) when SIGINT is
// ignored or has its default action, or the handler is already on_sigint.
bool install_sigint_handler() {
    struct sigaction current {};
    if (sigaction(SIGINT, nullptr, &current) != 0) return false;
    if (current.sa_flags & SA_SIGINFO) {
        if (current.sa_sigaction == on_sigint) return false;
    } else if (current.sa_handler == SIG_IGN || current.sa_handler == SIG_DFL) {
        return false;
    }
    struct sigaction mine {};
    mine.sa_sigaction = on_sigint;
    mine.sa_flags = SA_SIGINFO | (current.sa_flags & SA_RESTART);
    sigemptyset(&mine.sa_mask);
    g_previous = current;
    return sigaction(SIGINT, &mine, nullptr) == 0;
}

}  // namespace

void bind_interrupt(py::module_& m) {
    m.def("request_interrupt", &crsim::request_interrupt,
          "Stops every crsim run and batch in progress at its next step (they raise "
          "KeyboardInterrupt); runs started later are not affected. Safe from a signal handler.");
    m.def("clear_interrupt", &crsim::clear_interrupt,
          "Withdraws the interrupt requests made so far from the runs in progress.");
    m.def("install_sigint_handler", &install_sigint_handler,
          "Puts crsim's Ctrl-C hook in front of the current SIGINT handler (done at import); "
          "returns False when nothing changed (SIGINT ignored or default, or already installed).");
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const crsim::Interrupted& e) {
            if (PyErr_CheckSignals() == 0 && !PyErr_Occurred()) PyErr_SetString(PyExc_KeyboardInterrupt, e.what());
        }
    });
    install_sigint_handler();
}
