// CPU thread control. Node runs AsyncWorkers on libuv's pool (4 threads by default); each heavy
// worker would start its own OpenMP team and oversubscribe the cores, so heavy work takes the
// compute lock and runs one team at a time using every configured thread.
#pragma once
#include <mutex>

namespace stic {

int numThreads();
// n <= 0 restores the default (STIC_THREADS, else OMP_NUM_THREADS, else the number of cores).
void setNumThreads(int n);
std::mutex& computeLock();

}  // namespace stic
