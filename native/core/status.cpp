#include "core/status.h"

namespace stic {

const char* codeName(Code c) {
  switch (c) {
    case Code::Ok: return "OK";
    case Code::InvalidArgument: return "INVALID_ARGUMENT";
    case Code::NotFound: return "NOT_FOUND";
    case Code::OutOfRange: return "OUT_OF_RANGE";
    case Code::IoError: return "IO_ERROR";
    case Code::OutOfMemory: return "OUT_OF_MEMORY";
    case Code::Unsupported: return "UNSUPPORTED";
    case Code::Internal: return "INTERNAL";
    case Code::Device: return "DEVICE";
  }
  return "UNKNOWN";
}

}  // namespace stic
