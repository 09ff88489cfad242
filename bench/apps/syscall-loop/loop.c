/*
 * syscall-loop: makes N cheap system calls (getppid, through syscall(2) so that libc caches nothing) and prints the
 * nanoseconds of CPU time per call (the thread's CPU clock: time spent waiting for a core does not count, which on
 * a shared machine is most of the noise). `node bench/run.js --seccomp` runs it with and without a seccomp filter.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 2000000;
  struct timespec a, b;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
  for (long i = 0; i < n; i++) syscall(SYS_getppid);
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
  double ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
  printf("%.1f\n", ns / (double)n);
  return 0;
}
