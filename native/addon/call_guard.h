// One call at a time on a native object (a trainer, a pretrainer, a generation), with one rule:
//  - an asynchronous call made before the previous one's Promise settled is rejected through its
//    own Promise (never thrown), naming the object and the method;
//  - the object is released when the previous call's worker is destroyed, which is on the JS thread
//    after its Promise settled (also when it failed), so `await a(); b()` always runs b, however
//    fast a ran;
//  - a synchronous method that needs the object idle (a getter of mutable state) throws instead.
#pragma once
#include <napi.h>

#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "addon/worker.h"

namespace stic::addon {

class CallGuard {
 public:
  // owner: the JS class name ("LlavaTrainer"); noun: how messages call it ("trainer").
  CallGuard(std::string owner, std::string noun) : owner_(std::move(owner)), noun_(std::move(noun)) {}

  // Queues `work` when the object is idle, else returns a rejected Promise. The token captured in
  // the work releases the object when the worker (and with it the work) is destroyed.
  template <typename Out>
  Napi::Promise queue(Napi::Env env, const char* method, typename PromiseWorker<Out>::Work work, typename PromiseWorker<Out>::ToJs toJs,
                      std::vector<Napi::Value> keep) {
    if (busy_->exchange(true)) {
      auto d = Napi::Promise::Deferred::New(env);
      d.Reject(Napi::Error::New(env, owner_ + "." + method + ": another call on this " + noun_ + " is still running; await it before starting the next").Value());
      return d.Promise();
    }
    auto busy = busy_;
    std::shared_ptr<void> token(nullptr, [busy](void*) { busy->store(false); });
    return PromiseWorker<Out>::queue(env, [token, work = std::move(work)](Out& out) { return work(out); }, std::move(toJs), std::move(keep));
  }

  // For synchronous methods: throws while a call runs.
  void requireIdle(Napi::Env env, const char* method) const {
    if (busy_->load()) throw Napi::Error::New(env, owner_ + "." + method + ": a call on this " + noun_ + " is running; wait for it");
  }

 private:
  std::string owner_;
  std::string noun_;
  std::shared_ptr<std::atomic<bool>> busy_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace stic::addon
