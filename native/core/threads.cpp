#include "core/threads.h"

#include <omp.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

namespace stic {
namespace {

int defaultThreads() {
  for (const char* var : {"STIC_THREADS", "OMP_NUM_THREADS"}) {
    if (const char* v = std::getenv(var)) {
      int n = std::atoi(v);
      if (n > 0 && n <= kMaxThreads) return n;
    }
  }
  int hw = static_cast<int>(std::thread::hardware_concurrency());
  return hw > 0 ? hw : 1;
}

std::atomic<int>& threadSetting() {
  static std::atomic<int> n{defaultThreads()};
  return n;
}

// One queued job and the slot its caller waits on.
struct Job {
  const std::function<Status()>* fn;
  Status status;
  std::exception_ptr exception;
  bool done = false;
};

class ComputeThread {
 public:
  ComputeThread() { std::thread([this] { loop(); }).detach(); }

  Status run(const std::function<Status()>& fn) {
    Job job{&fn, Status(), nullptr, false};
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(&job);
    }
    wake_.notify_one();
    std::unique_lock<std::mutex> lock(mutex_);
    finished_.wait(lock, [&] { return job.done; });
    if (job.exception) std::rethrow_exception(job.exception);
    return job.status;
  }

 private:
  void loop() {
    for (;;) {
      Job* job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return !queue_.empty(); });
        job = queue_.front();
        queue_.pop_front();
      }
      omp_set_num_threads(threadSetting().load());  // the ICV is per thread: set it where regions start
      try {
        job->status = (*job->fn)();
      } catch (...) {
        job->exception = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        job->done = true;
      }
      finished_.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable finished_;
  std::deque<Job*> queue_;
};

ComputeThread& computeThread() {
  // Deliberately leaked: the detached thread may still be waiting when static destructors run at exit.
  static ComputeThread* t = new ComputeThread();
  return *t;
}

}  // namespace

int numThreads() { return threadSetting().load(); }

void setNumThreads(int n) { threadSetting().store(n > 0 ? n : defaultThreads()); }

Status runOnComputeThread(const std::function<Status()>& fn) { return computeThread().run(fn); }

}  // namespace stic
