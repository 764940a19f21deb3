#include "core/threads.h"

#include <omp.h>

#include <atomic>
#include <cstdlib>
#include <thread>

namespace stic {
namespace {

int defaultThreads() {
  for (const char* var : {"STIC_THREADS", "OMP_NUM_THREADS"}) {
    if (const char* v = std::getenv(var)) {
      int n = std::atoi(v);
      if (n > 0) return n;
    }
  }
  int hw = static_cast<int>(std::thread::hardware_concurrency());
  return hw > 0 ? hw : 1;
}

std::atomic<int>& threadSetting() {
  static std::atomic<int> n{defaultThreads()};
  return n;
}

}  // namespace

int numThreads() { return threadSetting().load(); }

void setNumThreads(int n) {
  int v = n > 0 ? n : defaultThreads();
  threadSetting().store(v);
  omp_set_num_threads(v);
}

std::mutex& computeLock() {
  static std::mutex m;
  return m;
}

}  // namespace stic
