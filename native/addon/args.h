// The one argument reader of every binding: the shipped addon's (native/addon/*.cpp), the kernel
// lab's (native/addon/lab/, which links against stic.node and reads its arguments with these) and
// the MPI addon's (native/dist/dist_binding.cpp, which compiles args.cpp in). JS values become plain
// C++ values here, on the JS thread, before any work is queued.
//
// Every refusal is a TypeError of one form:
//   "Expected <what> for <where> but received <value>"
// <where> is the argument's path ("options.beta", "pairs[2].chosenIds[0]", "kernels.sgemm.lda"),
// <value> the value as describeValue() prints it (a string "x", -3, undefined, an object...).
//
// Absent values, one rule everywhere: a key or an argument that is undefined OR null is absent.
// A required value that is absent is refused like any wrong value ("... but received undefined");
// an optional one (the *Or readers, has()) takes the default its caller names. Hyperparameters are
// never optional here: native code requires them, and their defaults live in the TypeScript option
// tables (lib/stic/train_options.ts, lib/pretrain/toy_pretrain.ts).
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace stic::addon {

// ---- messages --------------------------------------------------------------------------------

std::string describeValue(const Napi::Value& v);  // "a string \"x\"", "-3", "undefined", "an object"...
[[noreturn]] void throwExpected(Napi::Env env, const std::string& what, const std::string& where, const Napi::Value& got);
// "'a', 'b' or 'c'": how a list of choices is named in a refusal.
std::string choiceList(const std::vector<std::string>& choices);
// "F32, BF16, F16, F64, I32, I64, U8": the element types a tensor may have.
extern const char* const kDTypeNames;

// ---- one value ---------------------------------------------------------------------------------

bool isAbsent(const Napi::Value& v);  // undefined or null

// A number's range, named in the refusal: Any "a number", Finite "a finite number", Positive "a
// positive number" (finite, > 0), NonNegative "a non-negative number" (finite), UnitOpen "a number
// in [0, 1)", Probability "a probability in [0, 1)". A value that is not a number at all is refused
// as "a number" first.
enum class Num { Any, Finite, Positive, NonNegative, UnitOpen, Probability };

Napi::Object requireObject(const Napi::Value& v, const std::string& where);
Napi::Array requireArray(const Napi::Value& v, const std::string& where, const std::string& what = "an array");
std::string requireString(const Napi::Value& v, const std::string& where);
bool requireBool(const Napi::Value& v, const std::string& where);
double requireNumber(const Napi::Value& v, const std::string& where, Num range = Num::Any);
// An integer: a Number holding one exactly (|x| <= 2^53 - 1) or a BigInt that fits 64 bits.
int64_t requireInt(const Napi::Value& v, const std::string& where);
// An integer >= min: refused as "a positive integer" (min 1), "a non-negative integer" (min 0) or
// "an integer >= <min>".
int64_t requireInt(const Napi::Value& v, const std::string& where, int64_t min);
// A random seed: an integer in [0, 2^53) (what a JS number holds exactly).
uint64_t requireSeed(const Napi::Value& v, const std::string& where);
// The index of the string v among `choices`.
int requireChoice(const Napi::Value& v, const std::string& where, const std::vector<std::string>& choices);
std::vector<int64_t> requireIntArray(const Napi::Value& v, const std::string& where);
// An array of strings: the array refused as `what`, an entry as `itemWhat` ("names[i]").
std::vector<std::string> requireStringArray(const Napi::Value& v, const std::string& where, const std::string& what,
                                            const std::string& itemWhat);
// A dtype name; refused as `what` (by default "one of F32, BF16, ...").
DType requireDType(const Napi::Value& v, const std::string& where, const std::string& what = "");
// A typed array of `type`, refused as "a Float32Array", "an Int32Array", ...
Napi::TypedArray requireTypedArray(const Napi::Value& v, const std::string& where, napi_typedarray_type type);
// Any typed array, refused as "a typed array"; its bytes.
Napi::TypedArray requireAnyTypedArray(const Napi::Value& v, const std::string& where);
// The first element of a typed array (its buffer offset applied).
template <typename T>
T* typedData(const Napi::TypedArray& a) {
  return reinterpret_cast<T*>(static_cast<char*>(a.ArrayBuffer().Data()) + a.ByteOffset());
}
// A Float32Array or a Float64Array (a reader rounds float64 to float), not copied: the caller keeps
// the array alive while it is read.
struct FloatView {
  const void* data = nullptr;
  bool f64 = false;
  int64_t length = 0;
  void copyTo(float* dst) const;  // length floats
};
FloatView requireFloatView(const Napi::Value& v, const std::string& where);
// Copies (the worker reads no JS memory):
std::vector<float> requireFloat32s(const Napi::Value& v, const std::string& where);  // a Float32Array
// Token ids: an Int32Array or an array of integers.
std::vector<int64_t> requireTokenIds(const Napi::Value& v, const std::string& where);
// Per-token 0/1 flags: a Uint8Array or an array of integers (nonzero is 1).
std::vector<uint8_t> requireMask(const Napi::Value& v, const std::string& where);
// An array of exactly n numbers ("an array of <n> numbers"; an entry "a number").
std::vector<double> requireNumbers(const Napi::Value& v, const std::string& where, size_t n);

// ---- an options object -----------------------------------------------------------------------

// The keys of one JS object, named "<where>.<key>" in refusals; the same readers as above, by key.
class Args {
 public:
  Args(const Napi::Value& v, std::string where);  // refuses a non-object as "an object"
  Napi::Env env() const { return obj_.Env(); }
  const std::string& where() const { return where_; }
  std::string name(const char* key) const { return where_ + "." + key; }
  Napi::Value get(const char* key) const { return obj_.Get(key); }
  bool has(const char* key) const { return !isAbsent(get(key)); }
  // Refuses o[key] as `what`.
  [[noreturn]] void fail(const char* key, const std::string& what) const;

  Args object(const char* key) const { return Args(get(key), name(key)); }
  Napi::Array array(const char* key, const std::string& what = "an array") const { return requireArray(get(key), name(key), what); }
  std::string string(const char* key) const { return requireString(get(key), name(key)); }
  bool boolean(const char* key) const { return requireBool(get(key), name(key)); }
  bool boolOr(const char* key, bool dflt) const { return has(key) ? boolean(key) : dflt; }
  double number(const char* key, Num range = Num::Any) const { return requireNumber(get(key), name(key), range); }
  double numberOr(const char* key, double dflt, Num range = Num::Any) const { return has(key) ? number(key, range) : dflt; }
  int64_t integer(const char* key) const { return requireInt(get(key), name(key)); }
  // An integer >= min (a size, a count, an index).
  int64_t size(const char* key, int64_t min = 1) const { return requireInt(get(key), name(key), min); }
  int64_t sizeOr(const char* key, int64_t dflt, int64_t min) const { return has(key) ? size(key, min) : dflt; }
  uint64_t seed(const char* key) const { return requireSeed(get(key), name(key)); }
  int choice(const char* key, const std::vector<std::string>& choices) const { return requireChoice(get(key), name(key), choices); }
  int choiceOr(const char* key, const std::vector<std::string>& choices, int dflt) const { return has(key) ? choice(key, choices) : dflt; }
  std::vector<int64_t> intArray(const char* key) const { return requireIntArray(get(key), name(key)); }
  DType dtype(const char* key) const { return requireDType(get(key), name(key)); }
  std::vector<float> float32s(const char* key) const { return requireFloat32s(get(key), name(key)); }
  std::vector<int64_t> tokenIds(const char* key) const { return requireTokenIds(get(key), name(key)); }
  std::vector<uint8_t> mask(const char* key) const { return requireMask(get(key), name(key)); }
  std::vector<double> numbers(const char* key, size_t n) const { return requireNumbers(get(key), name(key), n); }

 private:
  Napi::Object obj_;
  std::string where_;
};

// o.data of a tensor write (`method`: "setTensors"): a Float32Array or Float64Array of exactly
// `numel` values, else a RangeError naming the tensor and its shape (`shape`, as shapeString prints it).
FloatView requireTensorValues(const Args& o, const char* method, const std::string& tensor, int64_t numel, const std::string& shape);

// ---- errors of the work itself ---------------------------------------------------------------

// statusToError (worker.h): a non-OK Status as a JS Error with code "STIC_<CODE>".

}  // namespace stic::addon
