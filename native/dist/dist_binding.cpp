// stic_dist.node: the optional MPI addon of lib/dist (lib/native/contract.ts, "many processes").
// It is a separate module so that stic.node never needs libmpi: lib/dist loads this file only when
// the launcher says there are several ranks, or when `stic info` asks whether MPI is there.
// Collectives return Promises and run on a libuv worker thread (MPI_THREAD_SERIALIZED): the event
// loop stays free while a rank waits for the others, and lib/dist queues calls one at a time.
// Byte payloads are copied into plain vectors before the worker is queued; allreduceSumF32 works
// in place on the caller's Float32Array, which the worker keeps referenced until it settles.
#include <napi.h>

#include <functional>
#include <string>
#include <vector>

#include "addon/args.h"
#include "dist/mpi_comm.h"
#ifdef STIC_WITH_NCCL
#include "dist/nccl_comm.h"
#endif

namespace stic::dist {
namespace {

using Bytes = std::vector<uint8_t>;
using addon::isAbsent;
using addon::requireInt;
using addon::requireTypedArray;

// One collective on a worker thread: `work` returns "" or an error message; `toJs` builds the value.
class CollectiveWorker : public Napi::AsyncWorker {
 public:
  using Work = std::function<std::string()>;
  using ToJs = std::function<Napi::Value(Napi::Env)>;

  static Napi::Promise queue(Napi::Env env, Work work, ToJs toJs, Napi::Value keepAlive = Napi::Value()) {
    auto* w = new CollectiveWorker(env, std::move(work), std::move(toJs), keepAlive);
    Napi::Promise p = w->deferred_.Promise();
    w->Queue();
    return p;
  }

 protected:
  void Execute() override {
    try {
      std::string e = work_();
      if (!e.empty()) SetError(e);
    } catch (const std::exception& e) {
      SetError(std::string("internal error: ") + e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(toJs_(Env())); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  CollectiveWorker(Napi::Env env, Work work, ToJs toJs, Napi::Value keepAlive)
      : Napi::AsyncWorker(env, "stic:dist"), deferred_(Napi::Promise::Deferred::New(env)), work_(std::move(work)), toJs_(std::move(toJs)) {
    if (!keepAlive.IsEmpty()) ref_ = Napi::Persistent(keepAlive);
  }
  Napi::Promise::Deferred deferred_;
  Work work_;
  ToJs toJs_;
  Napi::Reference<Napi::Value> ref_;
};

// Arguments are read by the one argument reader of every binding (addon/args.h, compiled into this
// module too: it does not link stic.node).
Bytes bytesArg(const Napi::Value& v, const char* name) {
  Napi::TypedArray a = requireTypedArray(v, name, napi_uint8_array);
  const uint8_t* p = addon::typedData<uint8_t>(a);
  return Bytes(p, p + a.ElementLength());
}

int rankArg(const Napi::Value& v, const char* name) { return static_cast<int>(requireInt(v, name, 0)); }

Napi::Float32Array floatsArg(const Napi::Value& v) { return requireTypedArray(v, "data", napi_float32_array).As<Napi::Float32Array>(); }

void requireInit(Napi::Env env) {
  if (!initialized()) throw Napi::Error::New(env, "MPI is not initialised: call init() first");
}

Napi::Value toBuffer(Napi::Env env, const Bytes& b) { return Napi::Buffer<uint8_t>::Copy(env, b.data(), b.size()); }

Napi::Value toBufferList(Napi::Env env, const std::vector<Bytes>& all) {
  Napi::Array a = Napi::Array::New(env, all.size());
  for (size_t r = 0; r < all.size(); r++) a.Set(static_cast<uint32_t>(r), toBuffer(env, all[r]));
  return a;
}

Napi::Value LibraryVersion(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), libraryVersion()); }

Napi::Value Init(const Napi::CallbackInfo& info) {
  WorldInfo w;
  std::string e = init(w);
  if (!e.empty()) throw Napi::Error::New(info.Env(), e);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("rank", w.rank);
  o.Set("size", w.size);
  o.Set("threadLevel", w.threadLevel);
  return o;
}

Napi::Value Finalize(const Napi::CallbackInfo& info) {
  std::string e = finalize();
  if (!e.empty()) throw Napi::Error::New(info.Env(), e);
  return info.Env().Undefined();
}

Napi::Value Abort(const Napi::CallbackInfo& info) {
  const int code = isAbsent(info[0]) ? 1 : static_cast<int>(requireInt(info[0], "code"));
  if (initialized()) abortAll(code);
  return info.Env().Undefined();
}

Napi::Value Barrier(const Napi::CallbackInfo& info) {
  requireInit(info.Env());
  return CollectiveWorker::queue(info.Env(), [] { return barrier(); }, [](Napi::Env env) { return env.Undefined(); });
}

// broadcast(root, bytes | null) -> Buffer (root's bytes on every rank)
Napi::Value Broadcast(const Napi::CallbackInfo& info) {
  requireInit(info.Env());
  const int root = rankArg(info[0], "root");
  auto data = std::make_shared<Bytes>();
  if (!isAbsent(info[1])) *data = bytesArg(info[1], "data");
  return CollectiveWorker::queue(info.Env(), [root, data] { return broadcast(root, *data); }, [data](Napi::Env env) { return toBuffer(env, *data); });
}

// allgather(bytes) -> Buffer[] (every rank's, rank order)
Napi::Value Allgather(const Napi::CallbackInfo& info) {
  requireInit(info.Env());
  auto mine = std::make_shared<Bytes>(bytesArg(info[0], "data"));
  auto all = std::make_shared<std::vector<Bytes>>();
  return CollectiveWorker::queue(info.Env(), [mine, all] { return allgather(*mine, *all); }, [all](Napi::Env env) { return toBufferList(env, *all); });
}

// gather(root, bytes) -> Buffer[] on root, null elsewhere
Napi::Value Gather(const Napi::CallbackInfo& info) {
  requireInit(info.Env());
  const int root = rankArg(info[0], "root");
  auto mine = std::make_shared<Bytes>(bytesArg(info[1], "data"));
  auto all = std::make_shared<std::vector<Bytes>>();
  WorldInfo w;
  init(w);  // already initialised: only reads this rank
  const bool isRoot = w.rank == root;
  return CollectiveWorker::queue(
      info.Env(), [root, mine, all] { return gather(root, *mine, *all); },
      [all, isRoot](Napi::Env env) -> Napi::Value { return isRoot ? toBufferList(env, *all) : env.Null(); });
}

// allreduceSumF32(Float32Array) -> undefined; the array holds the sum over ranks afterwards
Napi::Value AllreduceSumF32(const Napi::CallbackInfo& info) {
  requireInit(info.Env());
  Napi::Float32Array a = floatsArg(info[0]);
  float* p = a.Data();
  int64_t n = static_cast<int64_t>(a.ElementLength());
  return CollectiveWorker::queue(info.Env(), [p, n] { return allreduceSumF32(p, n); }, [](Napi::Env env) { return env.Undefined(); }, a);
}

#ifdef STIC_WITH_NCCL
// ncclInit(localRank) -> { device }: joins the NCCL communicator of every rank (after init()).
Napi::Value NcclInit(const Napi::CallbackInfo& info) {
  requireInit(info.Env());
  const int localRank = rankArg(info[0], "localRank");
  int device = -1;
  std::string e = ncclInit(localRank, device);
  if (!e.empty()) throw Napi::Error::New(info.Env(), e);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("device", device);
  return o;
}

Napi::Value NcclFinalize(const Napi::CallbackInfo& info) {
  std::string e = ncclFinalize();
  if (!e.empty()) throw Napi::Error::New(info.Env(), e);
  return info.Env().Undefined();
}

// ncclAllreduceSumF32(Float32Array) -> undefined; the array holds the sum over ranks afterwards
Napi::Value NcclAllreduceSumF32(const Napi::CallbackInfo& info) {
  if (!ncclInitialized()) throw Napi::Error::New(info.Env(), "NCCL is not initialised: call ncclInit() first");
  Napi::Float32Array a = floatsArg(info[0]);
  float* p = a.Data();
  int64_t n = static_cast<int64_t>(a.ElementLength());
  return CollectiveWorker::queue(info.Env(), [p, n] { return ncclAllreduceSumHostF32(p, n); }, [](Napi::Env env) { return env.Undefined(); }, a);
}
#endif

Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  exports.Set("libraryVersion", Napi::Function::New(env, LibraryVersion, "libraryVersion"));
  exports.Set("init", Napi::Function::New(env, Init, "init"));
  exports.Set("finalize", Napi::Function::New(env, Finalize, "finalize"));
  exports.Set("abort", Napi::Function::New(env, Abort, "abort"));
  exports.Set("barrier", Napi::Function::New(env, Barrier, "barrier"));
  exports.Set("broadcast", Napi::Function::New(env, Broadcast, "broadcast"));
  exports.Set("allgather", Napi::Function::New(env, Allgather, "allgather"));
  exports.Set("gather", Napi::Function::New(env, Gather, "gather"));
  exports.Set("allreduceSumF32", Napi::Function::New(env, AllreduceSumF32, "allreduceSumF32"));
#ifdef STIC_WITH_NCCL
  exports.Set("nccl", Napi::String::New(env, ncclVersion()));
  exports.Set("ncclInit", Napi::Function::New(env, NcclInit, "ncclInit"));
  exports.Set("ncclFinalize", Napi::Function::New(env, NcclFinalize, "ncclFinalize"));
  exports.Set("ncclAllreduceSumF32", Napi::Function::New(env, NcclAllreduceSumF32, "ncclAllreduceSumF32"));
#else
  exports.Set("nccl", env.Null());
#endif
  return exports;
}

}  // namespace
}  // namespace stic::dist

static Napi::Object InitSticDist(Napi::Env env, Napi::Object exports) { return stic::dist::InitModule(env, exports); }
NODE_API_MODULE(stic_dist, InitSticDist)
