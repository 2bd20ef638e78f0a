/* Descriptive statistics: min, max, mean, nearest-rank percentiles, stddev. */
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double stats_percentile(const double *sorted, size_t n, double q)
{
    if (n == 0)
        return NAN;
    size_t rank = (size_t)ceil(q / 100.0 * (double)n);
    if (rank < 1)
        rank = 1;
    return sorted[rank - 1];
}

void stats_compute(double *v, size_t n, struct stats *s)
{
    memset(s, 0, sizeof(*s));
    s->n = n;
    if (n == 0) {
        s->min = s->max = s->mean = s->p50 = s->p95 = s->stddev = NAN;
        return;
    }
    qsort(v, n, sizeof(*v), cmp);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    s->mean = sum / (double)n;
    double var = 0;
    for (size_t i = 0; i < n; i++)
        var += (v[i] - s->mean) * (v[i] - s->mean);
    s->stddev = n > 1 ? sqrt(var / (double)(n - 1)) : 0;
    s->min = v[0];
    s->max = v[n - 1];
    s->p50 = stats_percentile(v, n, 50);
    s->p95 = stats_percentile(v, n, 95);
}
