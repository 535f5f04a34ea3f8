// Internal. Names the calling thread, so `top -H`, `ps -L` and debuggers tell lf's threads apart
// (a worker, the supervisor, the logger) instead of showing the program's name for each.
#pragma once

#include <pthread.h>

namespace lf {

// `name` is at most 15 characters (the kernel's limit); a longer one is left unset.
inline void name_this_thread(const char* name) noexcept { ::pthread_setname_np(::pthread_self(), name); }

}  // namespace lf
