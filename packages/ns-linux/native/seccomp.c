/*
 * seccomp for warden-spawn (see seccomp.h). The program is built and tested in TypeScript; this file only decodes
 * it and hands it to the kernel, so the helper needs no libseccomp.
 */
#define _GNU_SOURCE
#include "seccomp.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static struct sock_filter *filter;
static unsigned short filter_len;

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* The value of `n` hex digits at `p`, or -1 when one is not a lower-case hex digit. */
static long long hexfield(const char *p, int n) {
  long long v = 0;
  for (int i = 0; i < n; i++) {
    int d = hexval(p[i]);
    if (d < 0) return -1;
    v = (v << 4) | d;
  }
  return v;
}

int seccomp_parse(const char *hex) {
  size_t len = strlen(hex);
  if (len == 0 || len % 16 != 0 || len / 16 > BPF_MAXINSNS || filter) {
    errno = EINVAL;
    return -1;
  }
  size_t n = len / 16;
  filter = calloc(n, sizeof(*filter));
  if (!filter) return -1;
  for (size_t i = 0; i < n; i++) {
    const char *p = hex + 16 * i;
    long long code = hexfield(p, 4), jt = hexfield(p + 4, 2), jf = hexfield(p + 6, 2), k = hexfield(p + 8, 8);
    if (code < 0 || jt < 0 || jf < 0 || k < 0) {
      free(filter);
      filter = NULL;
      errno = EINVAL;
      return -1;
    }
    filter[i].code = (unsigned short)code;
    filter[i].jt = (unsigned char)jt;
    filter[i].jf = (unsigned char)jf;
    filter[i].k = (unsigned int)k;
  }
  filter_len = (unsigned short)n;
  return 0;
}

int seccomp_install(void) {
  if (!filter) return 0;
  /* no_new_privs: required to install a filter without CAP_SYS_ADMIN, and it keeps a setuid binary started by the
   * app from running with more privileges than the filter was written for. Also set by new_privs: false. */
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return -1;
  struct sock_fprog prog = {.len = filter_len, .filter = filter};
  /* seccomp(2) rather than prctl(PR_SET_SECCOMP): same effect, and it reports unknown flags. No TSYNC: the app
   * process is single-threaded here; the filter is inherited by every thread and child it creates and kept across
   * execve. The kernel validates the program (jumps in range, ends in a return) and answers EINVAL otherwise. */
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) return -1;
  return 0;
}
