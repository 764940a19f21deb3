// Tensor bytes from safetensors files: each file is mmap'ed once (read-only, private) and every
// range is checked against the file's real size before it is touched, so a header that lies about
// offsets yields an error instead of a SIGBUS. (A file truncated by another process *while* it is
// mapped can still fault; nothing portable prevents that.)
#include "io/safetensors_read.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <unordered_map>

#include "cpu/convert.h"

namespace stic::io {

Result<std::unique_ptr<MappedFile>> MappedFile::open(const std::string& path, const std::string& forTensor) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    return error(err == ENOENT ? Code::NotFound : Code::IoError, "tensor \"", forTensor, "\": cannot open ", path, ": ",
                 std::strerror(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return error(Code::IoError, "tensor \"", forTensor, "\": cannot stat ", path, ": ", std::strerror(err));
  }
  auto mf = std::unique_ptr<MappedFile>(new MappedFile(path, static_cast<uint64_t>(st.st_size)));
  if (mf->size_ > 0) {
    void* p = ::mmap(nullptr, mf->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      return error(Code::IoError, "tensor \"", forTensor, "\": cannot map ", path, " (", mf->size_, " bytes): ",
                   std::strerror(err));
    }
    mf->data_ = static_cast<const char*>(p);
  }
  ::close(fd);  // the mapping keeps the file alive
  return mf;
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<char*>(data_), size_);
}

void MappedFile::prefetch(uint64_t offset, uint64_t n) const {
  if (!data_ || n == 0) return;
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  uint64_t begin = offset / page * page;
  ::madvise(const_cast<char*>(data_) + begin, offset + n - begin, MADV_WILLNEED);
}

void MappedFile::release(uint64_t offset, uint64_t n) const {
  if (!data_ || n == 0) return;
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  uint64_t begin = offset / page * page;
  ::madvise(const_cast<char*>(data_) + begin, std::min(offset + n, size_) - begin, MADV_DONTNEED);
}

Status MappedFile::checkRange(const TensorSource& src) const {
  const std::string where = "tensor \"" + src.name + "\" in " + src.file;
  const int64_t numel = shapeNumel(src.shape);
  if (src.nbytes != static_cast<uint64_t>(numel) * dtypeSize(src.dtype)) {
    return error(Code::InvalidArgument, where, ": shape ", shapeString(src.shape), " of ", dtypeName(src.dtype), " needs ",
                 static_cast<uint64_t>(numel) * dtypeSize(src.dtype), " bytes but the source spans ", src.nbytes);
  }
  if (src.offset > size_ || src.nbytes > size_ - src.offset) {
    return error(Code::OutOfRange, where, ": bytes [", src.offset, ", ", src.offset + src.nbytes,
                 ") run past the end of the file (", size_, " bytes)");
  }
  return Status::ok();
}

namespace {

// memcpy in 4 MiB chunks across threads: copying out of a mapping is bound by page faults, which
// proceed in parallel.
void parallelCopy(void* dst, const void* src, size_t n) {
  constexpr size_t kChunk = size_t(4) << 20;
  const int64_t chunks = static_cast<int64_t>((n + kChunk - 1) / kChunk);
#pragma omp parallel for schedule(dynamic, 1) if (chunks > 1)
  for (int64_t c = 0; c < chunks; ++c) {
    size_t begin = static_cast<size_t>(c) * kChunk;
    size_t len = std::min(kChunk, n - begin);
    std::memcpy(static_cast<char*>(dst) + begin, static_cast<const char*>(src) + begin, len);
  }
}

// Copies (converting when the dtypes differ) host bytes `src` of `from` into a host buffer `dst`.
Status copyOrConvert(void* dst, DType dstType, const char* src, const TensorSource& from) {
  size_t n = static_cast<size_t>(shapeNumel(from.shape));
  if (dstType == from.dtype) {
    parallelCopy(dst, src, from.nbytes);
    return Status::ok();
  }
  return cpu::convert(dst, dstType, src, from.dtype, n);
}

Status readFromMapped(const MappedFile& mf, const TensorSource& src, Tensor& dst) {
  const std::string where = "tensor \"" + src.name + "\" in " + src.file;
  const int64_t numel = shapeNumel(src.shape);
  STIC_RETURN_IF_ERROR(mf.checkRange(src));
  if (!dst.defined()) return error(Code::Internal, where, ": destination tensor is not allocated");
  if (dst.numel() != numel) {
    return error(Code::InvalidArgument, where, ": destination has ", dst.numel(), " elements (shape ",
                 shapeString(dst.shape()), ") but the checkpoint tensor has ", numel, " (shape ", shapeString(src.shape), ")");
  }
  if (numel == 0) return Status::ok();
  mf.prefetch(src.offset, src.nbytes);
  const char* bytes = mf.data() + src.offset;
  Status s;
  if (dst.device() == Device::Cpu) {
    s = copyOrConvert(dst.raw(), dst.dtype(), bytes, src);
  } else if (dst.dtype() == src.dtype) {
    s = dst.backend()->copyFromHost(dst.raw(), bytes, src.nbytes);
  } else {
    // Convert on the host, then upload: device memory cannot be written element by element.
    auto staging = Tensor::empty(cpuBackend(), dst.dtype(), dst.shape(), src.name.c_str());
    if (!staging.isOk()) return staging.status().withContext(where);
    s = copyOrConvert(staging.value().raw(), dst.dtype(), bytes, src);
    if (s.isOk()) s = dst.backend()->copyFromHost(dst.raw(), staging.value().raw(), staging.value().bytes());
  }
  return s.withContext(where);
}

}  // namespace

Status readTensor(const TensorSource& src, Tensor& dst) {
  auto mf = MappedFile::open(src.file, src.name);
  if (!mf.isOk()) return mf.status();
  return readFromMapped(*mf.value(), src, dst);
}

Status readTensors(const std::vector<TensorSource>& srcs, std::vector<Tensor*>& dsts) {
  if (srcs.size() != dsts.size()) {
    return error(Code::InvalidArgument, "readTensors: ", srcs.size(), " sources but ", dsts.size(), " destinations");
  }
  // How many reads each file still has to serve, so its mapping goes away after the last one.
  std::unordered_map<std::string, size_t> remaining;
  for (const auto& s : srcs) remaining[s.file]++;
  std::unordered_map<std::string, std::unique_ptr<MappedFile>> open;
  for (size_t i = 0; i < srcs.size(); ++i) {
    const TensorSource& src = srcs[i];
    auto it = open.find(src.file);
    if (it == open.end()) {
      auto mf = MappedFile::open(src.file, src.name);
      if (!mf.isOk()) return mf.status();
      it = open.emplace(src.file, mf.take()).first;
    }
    if (dsts[i] == nullptr) return error(Code::Internal, "readTensors: destination ", i, " (tensor \"", src.name, "\") is null");
    STIC_RETURN_IF_ERROR(readFromMapped(*it->second, src, *dsts[i]));
    if (--remaining[src.file] == 0) open.erase(it);
  }
  return Status::ok();
}

Status readTensorsMapped(const std::vector<TensorSource>& srcs, std::vector<Tensor*>& dsts,
                         std::unordered_map<std::string, std::shared_ptr<MappedFile>>& files) {
  if (srcs.size() != dsts.size()) {
    return error(Code::InvalidArgument, "readTensors: ", srcs.size(), " sources but ", dsts.size(), " destinations");
  }
  for (size_t i = 0; i < srcs.size(); ++i) {
    const TensorSource& src = srcs[i];
    auto it = files.find(src.file);
    if (it == files.end()) {
      auto mf = MappedFile::open(src.file, src.name);
      if (!mf.isOk()) return mf.status();
      it = files.emplace(src.file, std::shared_ptr<MappedFile>(mf.take())).first;
    }
    if (dsts[i] == nullptr) return error(Code::Internal, "readTensors: destination ", i, " (tensor \"", src.name, "\") is null");
    STIC_RETURN_IF_ERROR(readFromMapped(*it->second, src, *dsts[i]));
    it->second->release(src.offset, src.nbytes);
  }
  return Status::ok();
}

}  // namespace stic::io
