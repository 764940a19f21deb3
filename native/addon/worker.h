// PromiseWorker: the one pattern for every slow native call (STYLE.md, after node-llama-cpp).
//  - JS inputs are converted into a plain struct *before* construction (one conversion point);
//  - Execute() runs on a libuv thread, touches no JS value, catches everything, and turns a
//    non-OK Status or a C++ exception into a rejection that carries the message and a code;
//  - the worker holds references to every JS object whose memory it reads (owner, buffers),
//    so the garbage collector cannot free them mid-flight.
#pragma once
#include <napi.h>

#include <functional>
#include <new>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/threads.h"

namespace stic::addon {

// A JS Error whose message is the status message and whose `code` is "STIC_<CODE>".
Napi::Error statusToError(Napi::Env env, const Status& status);

template <typename Out>
class PromiseWorker : public Napi::AsyncWorker {
 public:
  using Work = std::function<Status(Out& out)>;
  using ToJs = std::function<Napi::Value(Napi::Env env, Out& out)>;

  // `exclusive`: run on the compute thread (OpenMP-heavy work); false for I/O-bound work.
  static Napi::Promise queue(Napi::Env env, Work work, ToJs toJs, std::vector<Napi::Value> keepAlive = {},
                             bool exclusive = true) {
    auto* w = new PromiseWorker(env, std::move(work), std::move(toJs), keepAlive, exclusive);
    Napi::Promise promise = w->deferred_.Promise();
    w->Queue();
    return promise;
  }

 protected:
  void Execute() override {
    try {
      // CPU-heavy work runs on the single compute thread (threads.h explains why); I/O-bound
      // work stays on this libuv thread so it can overlap with computation.
      Status s = exclusive_ ? runOnComputeThread([this] { return work_(out_); }) : work_(out_);
      if (!s.isOk()) fail(s);
    } catch (const std::bad_alloc&) {
      fail(Status(Code::OutOfMemory, "out of host memory"));
    } catch (const std::exception& e) {
      fail(Status(Code::Internal, std::string("internal error: ") + e.what()));
    } catch (...) {
      fail(Status(Code::Internal, "internal error: unknown C++ exception"));
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    try {
      deferred_.Resolve(toJs_(env, out_));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }
  void OnError(const Napi::Error&) override { deferred_.Reject(statusToError(Env(), status_).Value()); }

 private:
  PromiseWorker(Napi::Env env, Work work, ToJs toJs, const std::vector<Napi::Value>& keepAlive, bool exclusive)
      : Napi::AsyncWorker(env, "stic:PromiseWorker"),
        deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)),
        toJs_(std::move(toJs)),
        exclusive_(exclusive) {
    for (const auto& v : keepAlive) refs_.push_back(Napi::Persistent(v));
  }
  void fail(const Status& s) {
    status_ = s;
    SetError(s.message());
  }

  Napi::Promise::Deferred deferred_;
  Work work_;
  ToJs toJs_;
  bool exclusive_;
  Out out_{};
  Status status_;
  std::vector<Napi::Reference<Napi::Value>> refs_;
};

}  // namespace stic::addon
