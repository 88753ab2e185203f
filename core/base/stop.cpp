#include "tedloc/stop.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "tedloc/error.hpp"

namespace tedloc {
namespace {

std::atomic<bool> g_stop{false};
std::atomic<int> g_signals{0};
int g_wake[2] = {-1, -1};  // the handler writes a byte; the watcher thread reads it
std::mutex g_mutex;        // guards the two below
std::function<void()> g_abort_hook;
std::string g_finishing;

// Only async-signal-safe work here: the flag, the count, one write.
void on_signal(int) {
  g_stop.store(true);
  g_signals.fetch_add(1);
  const char byte = 1;
  [[maybe_unused]] const ssize_t ignored = ::write(g_wake[1], &byte, 1);
}

// Says what the signals do, outside the handler, where printing and the store are allowed.
void watch() {
  for (;;) {
    char byte;
    if (::read(g_wake[0], &byte, 1) <= 0) {
      if (errno == EINTR) continue;
      return;
    }
    std::function<void()> hook;
    std::string finishing;
    {
      std::lock_guard<std::mutex> lock(g_mutex);
      hook = g_abort_hook;
      finishing = g_finishing;
    }
    const int signals = g_signals.load();
    if (signals >= 2) {
      std::fputs("tedloc: aborting\n", stderr);
      try {
        if (hook) hook();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "tedloc: while aborting: %s\n", e.what());
      }
      std::_Exit(kExitInterrupted);
    }
    if (signals == 1) std::fprintf(stderr, "\ntedloc: stopping after %s (again to abort)\n", finishing.c_str());
  }
}

}  // namespace

void install_stop_handlers(const std::string& finishing) {
  static std::once_flag started;
  std::call_once(started, [] {
    if (::pipe2(g_wake, O_CLOEXEC) != 0) throw InternalError("cannot create the signal pipe");
    std::thread(watch).detach();
  });
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_finishing = finishing;
  }
  g_stop = false;
  g_signals = 0;
  struct sigaction action {};
  action.sa_handler = on_signal;
  action.sa_flags = SA_RESTART;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

void restore_default_signals() {
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
}

bool stop_requested() { return g_stop.load(std::memory_order_relaxed); }

const std::atomic<bool>& stop_flag() { return g_stop; }

AbortHook::AbortHook(std::function<void()> hook) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_abort_hook = std::move(hook);
}

AbortHook::~AbortHook() {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_abort_hook = nullptr;
}

}  // namespace tedloc
