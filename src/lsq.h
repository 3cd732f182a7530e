/* sigmoe: what the two least-squares solvers share (lsq.c, the
 * Levenberg-Marquardt solver; varpro.c, its variable-projection phase for
 * experts that are linear in their parameters): the tests and the active set
 * of the bounds, and the SSE trace. Internal to those two files. */
#ifndef SIGMOE_LSQ_H
#define SIGMOE_LSQ_H

#include "moe.h"
#include <math.h>
#include <string.h>

static inline double enorm(const double *v, int p)
{
    double s = 0.0;
    for (int i = 0; i < p; i++) s += v[i] * v[i];
    return sqrt(s);
}

/* Largest |g_j| / sqrt(A_jj * sse): the cosine of the angle between r and
 * column j of J, which is scale free (as in MINPACK's gtol). */
static inline double grad_cosine(const double *A, const double *g, int P, double sse,
                          const int *fixed)
{
    double out = 0.0;
    for (int j = 0; j < P; j++) {
        if (fixed && fixed[j]) continue;
        double ajj = A[j + (size_t) j * P];
        if (ajj > 0 && sse > 0) {
            double c = fabs(g[j]) / sqrt(ajj * sse);
            if (c > out) out = c;
        }
    }
    return out;
}

/* The SSE trace grows as the iterations go, so that a large maxit costs
 * nothing until it is used. */
typedef struct {
    double *v;
    int len, cap;
} sse_trace;

static inline void trace_push(sse_trace *tr, double sse)
{
    if (tr->len == tr->cap) {
        int cap = tr->cap < 32 ? 32 : 2 * tr->cap;
        double *v = (double *) R_alloc(cap, sizeof(double));
        if (tr->len) memcpy(v, tr->v, sizeof(double) * tr->len);
        tr->v = v;
        tr->cap = cap;
    }
    tr->v[tr->len++] = sse;
}

static inline void no_interrupt(void) {}

/* Parameters held at their bound for this iteration: at the lower bound with
 * the descent direction g_j = (J'r)_j <= 0, or at the upper one with g_j >= 0.
 * Returns how many. */
static inline int active_set(const double *theta, const double *g, const double *lower,
                      const double *upper, int P, int *fixed)
{
    int nfix = 0;
    for (int j = 0; j < P; j++) {
        fixed[j] = (lower && theta[j] <= lower[j] && g[j] <= 0.0) ||
                   (upper && theta[j] >= upper[j] && g[j] >= 0.0);
        nfix += fixed[j];
    }
    return nfix;
}

/* theta + delta projected onto the box, into trial; delta becomes the
 * projected step. Returns 1 if any coordinate was cut. */
static inline int project_step(const double *theta, double *delta, const double *lower,
                        const double *upper, int P, double *trial)
{
    int cut = 0;
    for (int j = 0; j < P; j++) {
        double t = theta[j] + delta[j];
        if ((lower && t < lower[j]) || (upper && t > upper[j])) {
            t = lower && t < lower[j] ? lower[j] : upper[j];
            delta[j] = t - theta[j];
            cut = 1;
        }
        trial[j] = t;
    }
    return cut;
}

/* Reduction of the SSE that the quadratic model predicts for step delta:
 * 2 delta'g - delta'A delta, with A's upper triangle. */
static inline double model_reduction(const double *A, const double *g, const double *delta, int P)
{
    double lin = 0.0, quad = 0.0;
    for (int j = 0; j < P; j++) {
        lin += delta[j] * g[j];
        double s = 0.0;
        for (int i = 0; i < j; i++) s += A[i + (size_t) j * P] * delta[i];
        quad += delta[j] * (2.0 * s + A[j + (size_t) j * P] * delta[j]);
    }
    return 2.0 * lin - quad;
}

/* The variable-projection phase (varpro.c), run from the start when
 * ctl->varpro and the experts are linear in their parameters. It works on the
 * solver's state: theta, A = J'J and g = J'r at theta (upper triangles), the
 * scratch pair A2, g2 (swapped with them as the phase goes), the SSE, the
 * damping, the counts and the trace. Returns a termination code, or 0 when it
 * hands the state (theta, A, g, sse valid at theta) over to the
 * Levenberg-Marquardt loop. */
int moe_lsq_varpro(const moe_lsq_problem *pb, const moe_lsq_control *ctl, moe_pass *ps, int nt,
                   double *theta, double **A, double **g, double **A2, double **g2, double *sse,
                   double *lambda, int *iter, int *evals, sse_trace *tr);
/* 1 if the experts of s are linear in their parameters (linear or constant
 * experts without output weights), so that the phase applies. */
int moe_lsq_varpro_applies(const moe_spec *s);

#endif
