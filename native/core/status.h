// Status and Result: errors are values until the Node-API boundary, where they become a rejected
// Promise or a thrown Error. Nothing in native/ ever calls exit() or abort().
#pragma once
#include <optional>
#include <sstream>
#include <string>
#include <utility>

namespace stic {

enum class Code { Ok = 0, InvalidArgument, NotFound, OutOfRange, IoError, OutOfMemory, Unsupported, Internal, Device };

const char* codeName(Code c);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status ok() { return Status(); }
  bool isOk() const { return code_ == Code::Ok; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "context: message", so a low-level failure keeps the high-level operation that saw it.
  Status withContext(const std::string& context) const {
    if (isOk()) return *this;
    return Status(code_, context + ": " + message_);
  }

 private:
  Code code_ = Code::Ok;
  std::string message_;
};

// Builds a message from any streamable pieces: errorf(Code::InvalidArgument, "expected ", a, " got ", b).
template <typename... Args>
Status error(Code code, Args&&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  return Status(code, os.str());
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}
  Result(Status status) : status_(std::move(status)) {}
  bool isOk() const { return status_.isOk(); }
  const Status& status() const { return status_; }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T take() { return std::move(*value_); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace stic

// Propagate a failed Status to the caller.
#define STIC_RETURN_IF_ERROR(expr)              \
  do {                                          \
    ::stic::Status stic_status_ = (expr);       \
    if (!stic_status_.isOk()) return stic_status_; \
  } while (0)

// Check a precondition; on failure return InvalidArgument with the streamed message.
#define STIC_CHECK_ARG(cond, ...)                                           \
  do {                                                                      \
    if (!(cond)) return ::stic::error(::stic::Code::InvalidArgument, __VA_ARGS__); \
  } while (0)
