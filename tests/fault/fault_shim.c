/* Fault injection for tests: an LD_PRELOAD library that makes socket I/O, accept4, epoll_ctl,
 * eventfd writes and sendfile fail at random with the errors the kernel can return for them.
 * Controlled by environment variables (read once, at load):
 *   LF_FAULT_PROBABILITY  chance per call, 0..1 (default 0.01)
 *   LF_FAULT_SEED         random seed (default 1); each thread draws its own sequence from it
 *   LF_FAULT_CALLS        comma-separated subset of read,readv,recv,write,writev,send,sendmsg,
 *                         accept4,epoll_ctl,eventfd,sendfile (default: all)
 *   LF_FAULT_AFTER_MS     inject nothing for this long after load (let the program start)
 *   LF_FAULT_REPORT       if set, print the faults injected per call to stderr at exit
 *   LF_FAULT_EAGAIN       0: never fake EAGAIN. Under edge-triggered epoll a fake EAGAIN on a
 *                         socket with data (or room) waiting is a lie no kernel tells: no new edge
 *                         would ever come, so the connection would stall for the wrong reason.
 * read/write and friends fail only on sockets, "eventfd" only on eventfd writes, so log files and
 * timers are left alone. Under a sanitizer, preload its runtime first:
 *   LD_PRELOAD="$(gcc -print-file-name=libasan.so):fault_shim.so"
 * the sanitizer's interceptor then calls this library, which calls libc. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

enum call { READ, READV, RECV, WRITE, WRITEV, SEND, SENDMSG, ACCEPT4, EPOLL_CTL, EVENTFD, SENDFILE, NCALLS };
static const char* const names[NCALLS] = {"read",    "readv",     "recv",    "write",
                                          "writev",  "send",      "sendmsg", "accept4",
                                          "epoll_ctl", "eventfd", "sendfile"};

static double probability = 0.01;
static uint64_t seed = 1;
static unsigned enabled = (1u << NCALLS) - 1;
static int64_t start_after_ns;
static atomic_ulong injected[NCALLS];
static atomic_ulong thread_counter;
static int report;
static int fake_eagain = 1;

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

__attribute__((constructor)) static void configure(void) {
  const char* p = getenv("LF_FAULT_PROBABILITY");
  if (p) probability = strtod(p, NULL);
  const char* s = getenv("LF_FAULT_SEED");
  if (s) seed = strtoull(s, NULL, 10);
  const char* calls = getenv("LF_FAULT_CALLS");
  if (calls && *calls) {
    enabled = 0;
    for (int i = 0; i < NCALLS; ++i) {
      const size_t n = strlen(names[i]);
      for (const char* c = calls; (c = strstr(c, names[i])) != NULL; c += n) {
        if ((c == calls || c[-1] == ',') && (c[n] == ',' || c[n] == '\0')) enabled |= 1u << i;
      }
    }
  }
  const char* after = getenv("LF_FAULT_AFTER_MS");
  start_after_ns = now_ns() + (after ? strtoll(after, NULL, 10) : 0) * 1000000;
  report = getenv("LF_FAULT_REPORT") != NULL;
  const char* eagain = getenv("LF_FAULT_EAGAIN");
  if (eagain && strcmp(eagain, "0") == 0) fake_eagain = 0;
}

__attribute__((destructor)) static void print_report(void) {
  if (!report) return;
  char line[512];
  int len = snprintf(line, sizeof line, "fault_shim: injected");
  for (int i = 0; i < NCALLS && len < (int)sizeof line; ++i) {
    len += snprintf(line + len, sizeof line - (size_t)len, " %s=%lu", names[i],
                    atomic_load(&injected[i]));
  }
  if (len < (int)sizeof line - 1) line[len++] = '\n';
  ssize_t (*real_write)(int, const void*, size_t) = dlsym(RTLD_NEXT, "write");
  if (real_write) (void)!real_write(2, line, (size_t)len);
}

/* splitmix64 per thread, seeded from the seed and the thread's arrival order. */
static _Thread_local uint64_t rng;
static _Thread_local int rng_ready;
static double next_random(void) {
  if (!rng_ready) {
    rng = seed * 0x9e3779b97f4a7c15ULL + atomic_fetch_add(&thread_counter, 1) + 1;
    rng_ready = 1;
  }
  uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return (double)(z >> 11) / 9007199254740992.0;
}

static int is_socket(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

static int is_eventfd(int fd) {
  char path[64], target[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  const ssize_t n = readlink(path, target, sizeof target - 1);
  if (n <= 0) return 0;
  target[n] = '\0';
  return strcmp(target, "anon_inode:[eventfd]") == 0;
}

/* Decides whether this call fails; if so sets errno to one of `errors` and returns 1. */
static int inject(enum call which, const int* errors, int nerrors) {
  if (!(enabled & (1u << which)) || probability <= 0) return 0;
  if (now_ns() < start_after_ns) return 0;
  if (next_random() >= probability) return 0;
  errno = errors[(int)(next_random() * nerrors) % nerrors];
  if (errno == EAGAIN && !fake_eagain) errno = EINTR;
  atomic_fetch_add(&injected[which], 1);
  return 1;
}

/* The next definition of `name` (libc's), looked up on first use. */
#define REAL(name)                  \
  static __typeof__(&name) real;    \
  if (!real) real = (__typeof__(&name))dlsym(RTLD_NEXT, #name)

static const int read_errors[] = {EINTR, EAGAIN, ENOMEM, ECONNRESET};
static const int write_errors[] = {EINTR, EAGAIN, ENOMEM, ECONNRESET, EPIPE};

ssize_t read(int fd, void* buf, size_t count) {
  REAL(read);
  if (inject(READ, read_errors, 4) && is_socket(fd)) return -1;
  return real(fd, buf, count);
}

ssize_t readv(int fd, const struct iovec* iov, int iovcnt) {
  REAL(readv);
  if (inject(READV, read_errors, 4) && is_socket(fd)) return -1;
  return real(fd, iov, iovcnt);
}

ssize_t recv(int fd, void* buf, size_t len, int flags) {
  REAL(recv);
  if (inject(RECV, read_errors, 4)) return -1;
  return real(fd, buf, len, flags);
}

ssize_t write(int fd, const void* buf, size_t count) {
  REAL(write);
  /* An eventfd write fails only with EINTR: EAGAIN would mean its counter is full, that is,
   * already signalled, which a faked failure on an empty counter would misrepresent. */
  static const int eventfd_errors[] = {EINTR};
  if (count == 8 && inject(EVENTFD, eventfd_errors, 1) && is_eventfd(fd)) return -1;
  if (inject(WRITE, write_errors, 5) && is_socket(fd)) return -1;
  return real(fd, buf, count);
}

ssize_t writev(int fd, const struct iovec* iov, int iovcnt) {
  REAL(writev);
  if (inject(WRITEV, write_errors, 5) && is_socket(fd)) return -1;
  return real(fd, iov, iovcnt);
}

ssize_t send(int fd, const void* buf, size_t len, int flags) {
  REAL(send);
  if (inject(SEND, write_errors, 5)) return -1;
  return real(fd, buf, len, flags);
}

ssize_t sendmsg(int fd, const struct msghdr* msg, int flags) {
  REAL(sendmsg);
  if (inject(SENDMSG, write_errors, 5)) return -1;
  return real(fd, msg, flags);
}

int accept4(int fd, struct sockaddr* addr, socklen_t* len, int flags) {
  REAL(accept4);
  static const int errors[] = {EINTR, EAGAIN, ENOMEM, ECONNABORTED};
  if (inject(ACCEPT4, errors, 4)) return -1;
  return real(fd, addr, len, flags);
}

int epoll_ctl(int epfd, int op, int fd, struct epoll_event* event) {
  REAL(epoll_ctl);
  static const int errors[] = {ENOMEM};
  if (op != EPOLL_CTL_DEL && inject(EPOLL_CTL, errors, 1)) return -1;
  return real(epfd, op, fd, event);
}

ssize_t sendfile(int out_fd, int in_fd, off_t* offset, size_t count) {
  REAL(sendfile);
  if (inject(SENDFILE, write_errors, 5)) return -1;
  return real(out_fd, in_fd, offset, count);
}

ssize_t sendfile64(int out_fd, int in_fd, off_t* offset, size_t count) {
  REAL(sendfile64);
  if (inject(SENDFILE, write_errors, 5)) return -1;
  return real(out_fd, in_fd, offset, count);
}
