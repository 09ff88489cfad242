// Native part of @warden/shm-transport: the few things Node cannot do by itself.
//
//  - createMemory(size)  memfd_create + ftruncate + seals + mmap   (router end)
//  - mapMemory(fd)       fstat + mmap of an inherited memfd         (app end)
//  - socketpair()        the doorbell pair                          (router end)
//  - ring(fd)            one byte on the doorbell, straight to send(2) (both ends)
//  - tuneAllocator(t, m) glibc malloc trim/mmap thresholds for a process that moves large bodies (both ends)
//
// Everything else (ring logic, atomics, doorbell I/O) is in TypeScript: Atomics.* works on integer typed arrays over
// a non-shared ArrayBuffer in V8 with the same sequentially consistent code as on a SharedArrayBuffer, and the
// doorbell socket is driven by libuv through net.Socket. See PROTOCOL.md "Memory ordering".
//
// Errors are returned as JS exceptions carrying the errno name; the TS wrapper turns them into WARDEN_ERR_SHM_* codes.

#include <napi.h>

#include "throw-errno.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <mutex>
#include <string>
#include <unordered_map>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

void RegisterProcess(Napi::Env env, Napi::Object exports);  // native/process.cc
void InitFdSocket(Napi::Env env, Napi::Object exports);  // native/fd-socket.cc
void RegisterSpawn(Napi::Env env, Napi::Object exports);  // native/spawn.cc
void RegisterUsers(Napi::Env env, Napi::Object exports);  // native/users.cc

namespace {

// A mapping of createMemory/mapMemory: `len` is its live length (0 once releaseMemory unmapped it before its
// ArrayBuffer was collected), `size` the length it was made with, `uncounted` whether MapShared's correction of
// V8's external memory count is still to be given back (see MapShared).
struct Mapping {
  size_t len;
  size_t size;
  bool uncounted;
};

// The live mappings, by address. A mutex: the addon may be loaded in worker threads too.
std::mutex gMapsMu;
std::unordered_map<void*, Mapping*> gMaps;

// Finalizer of the external ArrayBuffer: unless releaseMemory unmapped it already, the mapping lives exactly as long
// as some JS object can still see it, so a late read after close() can never touch unmapped memory. It also gives
// back to V8's count of external memory what MapShared took out of it (see there).
void Unmap(Napi::Env env, void* data, Mapping* m) {
  {
    std::lock_guard<std::mutex> g(gMapsMu);
    auto it = gMaps.find(data);
    if (it != gMaps.end() && it->second == m) gMaps.erase(it);  // not a newer mapping at the same address
    // munmap: release the mapping once the ArrayBuffer is garbage collected.
    if (m->len != 0) munmap(data, m->len);
  }
  if (m->uncounted) Napi::MemoryManagement::AdjustExternalMemory(env, (int64_t)m->size);
  delete m;
}

Napi::Value MapShared(Napi::Env env, int fd, size_t size) {
  // mmap MAP_SHARED read/write: both processes see the same pages; the memfd's size is sealed (router) so the peer
  // cannot shrink the file under us and turn an access into SIGBUS.
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return ThrowErrno(env, "mmap", errno);
  Mapping* m = new Mapping{size, size, true};
  {
    std::lock_guard<std::mutex> g(gMapsMu);
    gMaps[p] = m;
  }
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, p, size, Unmap, m);
  if (env.IsExceptionPending()) return ab;
  // V8 counts an ArrayBuffer's whole length as external memory, and collects garbage to free some once that count
  // grew by 64 MB since its last full collection. A channel's mapping is not memory a collection could give back (it
  // is unmapped when the channel closes, by releaseMemory) and its pages are resident only as far as the rings were
  // used: counted, every four 16 MiB channels a process mapped cost it a full collection (a new router ran one during
  // its first PUT /config). Taken out of the count here and given back before V8 takes the length out again: by
  // releaseMemory before it detaches the buffer (a channel's usual end), else by the finalizer, after the collector
  // freed the buffer (V8 then sees the count fall and rise again, as if the mapping were allocated anew).
  Napi::MemoryManagement::AdjustExternalMemory(env, -(int64_t)size);
  return ab;
}

// releaseMemory(buffer) -> boolean: detaches an ArrayBuffer of createMemory/mapMemory (every view of it becomes empty:
// reads give undefined, Atomics throw, nothing touches the pages) and unmaps it now, instead of when the ArrayBuffer
// is garbage collected (a closed channel's pages stayed resident until then). False if it was not ours or released.
Napi::Value ReleaseMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArrayBuffer()) {
    Napi::TypeError::New(env, "releaseMemory(buffer: ArrayBuffer)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
  void* data = ab.Data();
  if (data == nullptr) return Napi::Boolean::New(env, false);
  size_t size = 0;
  size_t giveBack = 0;
  {
    std::lock_guard<std::mutex> g(gMapsMu);
    auto it = gMaps.find(data);
    if (it == gMaps.end() || it->second->len == 0 || it->second->len != ab.ByteLength()) return Napi::Boolean::New(env, false);
    size = it->second->len;
    it->second->len = 0;  // the finalizer (at collection, or during Detach) must not unmap it again
    if (it->second->uncounted) {
      it->second->uncounted = false;
      giveBack = it->second->size;
    }
  }
  // Given back before Detach takes the length out of V8's count (see MapShared): the count never dips below what the
  // process allocated, which V8 would read as a new external allocation when it rose again. Outside the lock: V8 may
  // collect garbage here.
  if (giveBack != 0) Napi::MemoryManagement::AdjustExternalMemory(env, (int64_t)giveBack);
  ab.Detach();
  // munmap: the pages leave this process now (the peer keeps its own mapping).
  munmap(data, size);
  return Napi::Boolean::New(env, true);
}

// createMemory(size) -> { fd, buffer }
Napi::Value CreateMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "size must be a number").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  double dsize = info[0].As<Napi::Number>().DoubleValue();
  if (!(dsize > 0 && dsize <= (double)(1u << 31))) {
    Napi::RangeError::New(env, "size out of range").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  size_t size = (size_t)dsize;
  // 1. memfd_create: anonymous memory with an fd we can hand to the child. CLOEXEC so that only the child we pass it
  //    to explicitly (spawn's stdio array dup2s it and clears CLOEXEC) inherits it; ALLOW_SEALING for step 3.
  int fd = memfd_create("warden-channel", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return ThrowErrno(env, "memfd_create", errno);
  // 2. ftruncate: give it its final size (zero-filled).
  if (ftruncate(fd, (off_t)size) != 0) {
    int err = errno;
    close(fd);
    return ThrowErrno(env, "ftruncate", err);
  }
  // 3. F_ADD_SEALS: forbid shrinking/growing (a hostile app could otherwise shrink it and make our accesses SIGBUS)
  //    and forbid changing the seals afterwards.
  if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    int err = errno;
    close(fd);
    return ThrowErrno(env, "fcntl(F_ADD_SEALS)", err);
  }
  // 4. mmap (see MapShared).
  Napi::Value buf = MapShared(env, fd, size);
  if (env.IsExceptionPending()) {
    close(fd);
    return env.Undefined();
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("fd", Napi::Number::New(env, fd));
  out.Set("buffer", buf);
  return out;
}

// mapMemory(fd) -> ArrayBuffer of the memfd's whole size.
Napi::Value MapMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "fd must be a number").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  struct stat st;
  // fstat: the size of the region the router created (the header repeats it; the TS side cross-checks).
  if (fstat(fd, &st) != 0) return ThrowErrno(env, "fstat", errno);
  if (st.st_size <= 0 || st.st_size > (off_t)(1u << 31)) return ThrowErrno(env, "fstat", EINVAL);
  return MapShared(env, fd, (size_t)st.st_size);
}

// socketpair() -> [routerFd, appFd]
Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sv[2];
  // socketpair(AF_UNIX, SOCK_STREAM): the doorbell. One byte written = "look at the rings". EOF = peer gone (the
  // kernel closes the app's end when the process dies, however it dies). CLOEXEC: see createMemory.
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return ThrowErrno(env, "socketpair", errno);
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, sv[0]));
  out.Set(1u, Napi::Number::New(env, sv[1]));
  return out;
}

// ring(fd) -> 0 or errno. Rings the doorbell: one byte, written with a direct send(2) instead of through a
// net.Socket (whose Writable machinery cost more than the system call itself, measured: 5-8 % of a busy channel's
// CPU). The socket is non-blocking (libuv made it so when the net.Socket that reads it was opened). EAGAIN means the
// peer has a full buffer of unread bytes, so it will look at the rings anyway: success. MSG_NOSIGNAL: a peer that
// is gone gives EPIPE here (the read side sees EOF and closes the channel), never SIGPIPE.
Napi::Value Ring(const Napi::CallbackInfo& info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  static const char one = 1;
  ssize_t r;
  do {
    r = send(fd, &one, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
  } while (r < 0 && errno == EINTR);
  int err = (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) ? errno : 0;
  return Napi::Number::New(info.Env(), err);
}

// tuneAllocator(trimThreshold, mmapThreshold) -> bool. Body chunks (up to 256 KiB) are copied out of the ring into
// fresh Buffers and freed again at a high rate. With glibc's defaults a chunk above the (dynamic) mmap threshold is
// an mmap/munmap pair, and freeing memory at the top of the heap beyond 128 KiB trims it (returns pages to the
// kernel), so the next allocation faults the same pages in again: measured 64 KiB echo round trips swinging between
// 14k and 24k/s at ~45 us CPU per side, against a steady 26-32k/s at ~25 us with the thresholds raised. mallopt
// fixes both thresholds (which also turns off glibc's dynamic mmap threshold). false where there is no glibc.
Napi::Value TuneAllocator(const Napi::CallbackInfo& info) {
#ifdef __GLIBC__
  int trim = info[0].As<Napi::Number>().Int32Value();
  int mmap_threshold = info[1].As<Napi::Number>().Int32Value();
  bool ok = mallopt(M_TRIM_THRESHOLD, trim) == 1 && mallopt(M_MMAP_THRESHOLD, mmap_threshold) == 1;
  return Napi::Boolean::New(info.Env(), ok);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}

// getSeals(fd) -> number (F_GET_SEALS), for tests and for the app end's sanity check.
Napi::Value GetSeals(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "fd must be a number").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  // fcntl(F_GET_SEALS): which seals the memfd carries.
  int r = fcntl(info[0].As<Napi::Number>().Int32Value(), F_GET_SEALS);
  if (r < 0) return ThrowErrno(env, "fcntl(F_GET_SEALS)", errno);
  return Napi::Number::New(env, r);
}

// setCloexec(fd): the app end marks its inherited fds close-on-exec so that programs the app spawns do not keep the
// doorbell open (which would hide the app's death from the router) or hold the shared memory.
Napi::Value SetCloexec(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "fd must be a number").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  // fcntl(F_GETFD/F_SETFD): add FD_CLOEXEC, keep the other fd flags.
  int flags = fcntl(fd, F_GETFD);
  if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) != 0) return ThrowErrno(env, "fcntl(F_SETFD)", errno);
  return env.Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InitFdSocket(env, exports);  // native/fd-socket.cc
  exports.Set("createMemory", Napi::Function::New(env, CreateMemory));
  exports.Set("mapMemory", Napi::Function::New(env, MapMemory));
  exports.Set("releaseMemory", Napi::Function::New(env, ReleaseMemory));
  exports.Set("socketpair", Napi::Function::New(env, SocketPair));
  exports.Set("setCloexec", Napi::Function::New(env, SetCloexec));
  exports.Set("getSeals", Napi::Function::New(env, GetSeals));
  exports.Set("ring", Napi::Function::New(env, Ring));
  exports.Set("tuneAllocator", Napi::Function::New(env, TuneAllocator));
  exports.Set("SEAL_SHRINK", Napi::Number::New(env, F_SEAL_SHRINK));
  exports.Set("SEAL_GROW", Napi::Number::New(env, F_SEAL_GROW));
  RegisterProcess(env, exports);
  RegisterSpawn(env, exports);
  RegisterUsers(env, exports);  // native/users.cc
  return exports;
}

}  // namespace

NODE_API_MODULE(warden_shm, Init)
