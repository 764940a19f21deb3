// CPU thread control. Node runs AsyncWorkers on libuv's pool (4 threads by default). If each pool
// thread entered OpenMP regions itself, libgomp would create one thread team per pool thread:
// more OpenMP threads than cores, after which libgomp shortens its spin-waits in every team and
// each small parallel region pays a futex wake-up (measured: a decode attention step 0.12 ms with
// one team vs 0.23 ms with several). So every CPU-heavy job runs on ONE dedicated compute thread,
// which owns the process's only OpenMP team; the libuv thread just waits for it.
#pragma once
#include <functional>

#include "core/status.h"

namespace stic {

// The most CPU threads a process may ask for: far above any machine's core count, far below what
// makes OpenMP's team allocation fail. Larger values are refused (setThreads) or ignored (env).
constexpr int kMaxThreads = 1024;

int numThreads();
// n <= 0 restores the default (STIC_THREADS, else OMP_NUM_THREADS, else the number of cores).
// Takes effect from the next compute job.
void setNumThreads(int n);

// Runs fn on the compute thread (jobs run one at a time, in submission order) and returns its
// Status; blocks the caller until it is done. Exceptions thrown by fn are rethrown here.
Status runOnComputeThread(const std::function<Status()>& fn);

}  // namespace stic
