/* Descriptive statistics over samples (sorts its input). */
#ifndef BENCH_STATS_H
#define BENCH_STATS_H

#include <stddef.h>

struct stats {
    size_t n;
    double min, max, mean, p50, p95, stddev;
};

void stats_compute(double *v, size_t n, struct stats *s);

/* Nearest-rank percentile of sorted v, q in [0, 100]. */
double stats_percentile(const double *sorted, size_t n, double q);

#endif
