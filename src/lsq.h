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
 * projected step. Returns 1 if any coordinate was cut. Without a box (NULL
 * bounds) trial is theta + delta. */
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

/* delta'A delta, with A's upper triangle (||J delta||^2 for A = J'J). */
static inline double quad_form(const double *A, const double *delta, int P)
{
    double quad = 0.0;
    for (int j = 0; j < P; j++) {
        double s = 0.0;
        for (int i = 0; i < j; i++) s += A[i + (size_t) j * P] * delta[i];
        quad += delta[j] * (2.0 * s + A[j + (size_t) j * P] * delta[j]);
    }
    return quad;
}

/* Reduction of the SSE that the quadratic model predicts for step delta:
 * 2 delta'g - delta'A delta, with A's upper triangle. */
static inline double model_reduction(const double *A, const double *g, const double *delta, int P)
{
    double lin = 0.0;
    for (int j = 0; j < P; j++) lin += delta[j] * g[j];
    return 2.0 * lin - quad_form(A, delta, P);
}

/* The damping scale D of a system with matrix A (P x P, upper triangle): its
 * diagonal, floored at 1e-10 of the largest entry. Parameters that do not
 * move f (dead experts, saturated gates) have A_jj ~ 0; the floor keeps their
 * damping, and so their steps, bounded. Returns the largest entry (not > 0,
 * or not finite: nothing moves f). */
static inline double lm_scaling(const double *A, int P, double *D)
{
    double dmax = 0.0;
    for (int j = 0; j < P; j++) if (A[j + (size_t) j * P] > dmax) dmax = A[j + (size_t) j * P];
    double dfloor = 1e-10 * dmax;
    for (int j = 0; j < P; j++) {
        double ajj = A[j + (size_t) j * P];
        D[j] = ajj > dfloor ? ajj : dfloor;
    }
    return dmax;
}

/* The damped step: (A + lambda D) delta = g by Cholesky into M (P x P, left
 * factored for further solves), with the parameters flagged in `fixed` (or
 * none when NULL) held: their rows and columns become e_j and delta_j = 0.
 * Returns LAPACK's info (0: solved). */
static inline int lm_damped_solve(const double *A, const double *g, const double *D, double lambda,
                                  const int *fixed, int P, double *M, double *delta)
{
    memcpy(M, A, sizeof(double) * (size_t) P * P);
    for (int j = 0; j < P; j++) M[j + (size_t) j * P] += lambda * D[j];
    memcpy(delta, g, sizeof(double) * P);
    if (fixed)
        for (int j = 0; j < P; j++)
            if (fixed[j]) {
                for (int i = 0; i < P; i++) M[i + (size_t) j * P] = M[j + (size_t) i * P] = 0.0;
                M[j + (size_t) j * P] = 1.0;
                delta[j] = 0.0;
            }
    int info = 0, one = 1;
    F77_CALL(dpotrf)("U", &P, M, &P, &info FCONE);
    if (info == 0) F77_CALL(dpotrs)("U", &P, &one, M, &P, delta, &P, &info FCONE);
    return info;
}

/* The damping after an accepted step of gain ratio rho (Nielsen's update);
 * nu restarts at 2. */
static inline void lm_accepted(double rho, double *lambda, double *nu)
{
    double t = 2.0 * rho - 1.0, shrink = 1.0 - t * t * t;
    *lambda *= shrink > 1.0 / 3.0 ? shrink : 1.0 / 3.0;
    if (*lambda < 1e-300) *lambda = 1e-300;
    *nu = 2.0;
}

/* The damping after a rejected step; returns 1 when it has grown past any
 * use (no damped step reduces the SSE: a numerical local minimum). */
static inline int lm_rejected(double *lambda, double *nu)
{
    *lambda *= *nu;
    *nu *= 2.0;
    return *lambda > 1e16 || !R_FINITE(*lambda);
}

/* The flat-valley rule after accepted iteration iter (SSE sse, trace tr): 1
 * when the SSE fell by at most valley_tol noise variances over the last
 * valley_m iterations. sse / (n - P) estimates the noise variance, the unit
 * in which the data can tell two SSEs apart. */
static inline int valley_reached(const moe_lsq_control *ctl, const sse_trace *tr, double sse,
                                 int iter, int n, int P)
{
    return ctl->valley_tol > 0 && ctl->valley_m > 0 && n > P && iter >= ctl->valley_m &&
        tr->v[iter - ctl->valley_m] - sse <= ctl->valley_tol * sse / (n - P);
}

/* The stopping rules after an accepted step from an SSE of sse_old to sse
 * (iteration iter of the trace tr): actual and predicted reductions, the
 * step's size against theta's, and the flat-valley rule, in that order.
 * Returns the code, or 0 to go on. */
static inline int lm_stop_code(const moe_lsq_control *ctl, double actual, double pred,
                               double sse_old, double sse, double step, double size,
                               const sse_trace *tr, int iter, int n, int P)
{
    if (actual <= ctl->ftol * sse_old && pred <= ctl->ftol * sse_old) return MOE_LSQ_FTOL;
    if (step <= ctl->xtol * (size + ctl->xtol)) return MOE_LSQ_XTOL;
    return valley_reached(ctl, tr, sse, iter, n, P) ? MOE_LSQ_VALLEY : 0;
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
/* Moré's trust-region steps (trust.c), run when ctl->trust on the solver's
 * state as varpro's phase leaves it (theta, A, g, sse valid at theta; A2, g2
 * scratch). Returns a termination code (never 0). */
int moe_lsq_trust(const moe_lsq_problem *pb, const moe_lsq_control *ctl, moe_pass *ps, int nt,
                  double *theta, double **A, double **g, double **A2, double **g2, double *sse,
                  int *iter, int *evals, sse_trace *tr);
/* 1 if the experts of s are linear in their parameters (linear or constant
 * experts without output weights), so that the phase applies. */
int moe_lsq_varpro_applies(const moe_spec *s);

#endif
