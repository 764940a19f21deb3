// Read bandwidth of this machine, for the decode roofline of bench/llava7b.bench.ts: a buffer far
// larger than the last-level cache is summed by THREADS OpenMP threads (AVX-512/AVX2 loads from
// -O3 -march=native), PASSES times; prints the median GB/s (1e9 bytes/s) as JSON.
// Usage: membw BYTES THREADS PASSES
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

int main(int argc, char** argv) {
  if (argc != 4) return 2;
  size_t bytes = strtoull(argv[1], NULL, 10);
  int threads = atoi(argv[2]), passes = atoi(argv[3]);
  size_t n = bytes / sizeof(uint64_t);
  uint64_t* a = aligned_alloc(64, n * sizeof(uint64_t));
  if (!a || passes < 1 || passes > 64) return 3;
  omp_set_num_threads(threads);
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; i++) a[i] = i * 2654435761u;  // first touch by the thread that reads it
  double gbs[64];
  uint64_t sink = 0;
  for (int p = 0; p < passes; p++) {
    uint64_t sum = 0;
    double t0 = now();
#pragma omp parallel for schedule(static) reduction(+ : sum)
    for (size_t i = 0; i < n; i++) sum += a[i];
    gbs[p] = n * sizeof(uint64_t) / (now() - t0) / 1e9;
    sink += sum;
  }
  qsort(gbs, passes, sizeof(double), cmp);
  printf("{\"gbs\": %.3f, \"min\": %.3f, \"max\": %.3f, \"passes\": %d, \"threads\": %d, \"check\": %llu}\n", gbs[passes / 2], gbs[0], gbs[passes - 1], passes,
         threads, (unsigned long long)(sink & 0xff));
  free(a);
  return 0;
}
