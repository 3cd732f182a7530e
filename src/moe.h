/* sigmoe: the model's types and the kernels' prototypes.
 *
 * Two layers (see the file list): C_<area>_<verb>() adapters check SEXP types
 * and allocate results (their helpers are in adapt.h); the moe_<area>_<verb>()
 * kernels declared here work on raw pointers and never call the R API, so
 * they are safe to run inside OpenMP regions. Scratch memory of the kernels
 * comes from R_alloc, on the main thread, before any parallel region.
 *
 * Matrices are column-major, as in R. A data matrix x is n x d with leading
 * dimension ldx (>= n) so that a block of rows is addressed as x + row0 with
 * the same ldx, without copying.
 *
 * The architecture, one file per concept:
 *   gating.c (gates) and experts.c (experts) -> model.c (f_G and its
 *   Jacobian over row blocks) -> lsq.c (the Levenberg-Marquardt solver);
 *   varpro.c (its variable-projection phase, lsq.h between the two);
 *   losses.c (Voronoi loss, expert errors) beside them; threads.c (BLAS and
 *   OpenMP thread counts); adapt.c (helpers of the .Call adapters); init.c
 *   (the registration table).
 */
#ifndef SIGMOE_MOE_H
#define SIGMOE_MOE_H

#define R_NO_REMAP
#ifndef USE_FC_LEN_T
#define USE_FC_LEN_T
#endif
#include <R.h>
#include <Rinternals.h>
#include <R_ext/BLAS.h>
#include <R_ext/Lapack.h>
#ifndef FCONE
#define FCONE
#endif

#include "simd.h"

/* Gate codes; the same integers are used on the R side (R/params.R). */
enum {
    MOE_GATE_SIGMOID = 1,
    MOE_GATE_SOFTMAX = 2,
    MOE_GATE_NSIGMOID = 3 /* normalized sigmoid: sigma(z_i) / sum_j sigma(z_j) */
};

/* Expert codes; the same integers are used on the R side (R/params.R). */
enum {
    MOE_EXPERT_LINEAR = 1,
    MOE_EXPERT_RELU = 2,
    MOE_EXPERT_GELU = 3,
    MOE_EXPERT_SIGMOID = 4,
    MOE_EXPERT_TANH = 5,
    MOE_EXPERT_POLY = 6,
    MOE_EXPERT_CONSTANT = 7
};

/* A model structure: k experts on d inputs, with an output weight c_i on
 * every expert when outw (h = c act(a'x + b)); npar is the length of theta. */
typedef struct {
    int k, d, gating, expert, degree, npar, outw;
} moe_spec;

/* ---- the layout of theta: the only place in C that knows it ----
 * The free parameters are stored expert by expert; for expert i:
 *   beta0_i, beta1_i[1..d]   unless i == k - 1 is the reference, held at 0
 *                            (softmax, or normalized sigmoid with k == 1)
 *   a_i[1..d]                unless the expert is constant
 *   b_i
 *   c_i                      the output weight, only when outw
 * Only the last expert can lack its gate part, so every expert's block
 * starts at i times the length of a full block. R/params.R mirrors this. */
static inline int moe_theta_gate_len(const moe_spec *s) { return 1 + s->d; }
static inline int moe_theta_expert_len(const moe_spec *s)
{
    return (s->expert == MOE_EXPERT_CONSTANT ? 1 : s->d + 1) + (s->outw ? 1 : 0);
}
/* 1 if expert i has free gate parameters: not the reference, which is the
 * softmax gate's last expert and the one expert of a normalized sigmoid gate
 * (identically 1); R's gate_reference() */
static inline int moe_theta_gated(const moe_spec *s, int i)
{
    int ref = s->gating == MOE_GATE_SOFTMAX || (s->gating == MOE_GATE_NSIGMOID && s->k == 1);
    return !(ref && i == s->k - 1);
}
/* Position of beta0_i (beta1_i[j] follows at + 1 + j); only when gated. */
static inline int moe_theta_gate(const moe_spec *s, int i)
{
    return i * (moe_theta_gate_len(s) + moe_theta_expert_len(s));
}
/* Position of a_i[0] (a_i[j] at + j), or of b_i for the constant expert. */
static inline int moe_theta_expert(const moe_spec *s, int i)
{
    return moe_theta_gate(s, i) + (moe_theta_gated(s, i) ? moe_theta_gate_len(s) : 0);
}
/* Position of b_i. */
static inline int moe_theta_b(const moe_spec *s, int i)
{
    return moe_theta_expert(s, i) + (s->expert == MOE_EXPERT_CONSTANT ? 0 : s->d);
}
/* Position of c_i, the output weight (only when outw). */
static inline int moe_theta_c(const moe_spec *s, int i) { return moe_theta_b(s, i) + 1; }
/* The length of theta (the spec's npar). */
static inline int moe_theta_len(const moe_spec *s)
{
    return moe_theta_expert(s, s->k - 1) + moe_theta_expert_len(s);
}

/* ---- gating.c ---- */
/* g = gate(z) for m rows of k columns; z and g have leading dimension ld,
 * so that a thread can take a range of rows of a larger block. work is
 * scratch for m doubles (softmax and normalized sigmoid). */
void moe_gate_eval(int gating, const double *z, int ld, int m, int k, double *g,
                   double *work);
/* du = d f / d z for m rows given the gates' inputs z, the gates g, the expert
 * outputs h (all leading dimension ld) and the model values f (length m). */
void moe_gate_score(int gating, const double *z, const double *g,
                    const double *h, const double *f, int ld, int m, int k,
                    double *du);

/* ---- experts.c ---- */
/* h = expert(t) and, when dh is not NULL, dh = d expert / d t, elementwise. */
void moe_expert_eval(int expert, int degree, const double *t, R_xlen_t len,
                     double *h, double *dh);

/* ---- model.c ---- */
/* theta unpacked into the layout the kernels use: beta0 (k), B1 (k x d),
 * A (k x d), both column-major, b (k) and, when c is not NULL, the output
 * weights c (k; 1 without them). The reference expert's gate row and the
 * constant expert's slopes are 0. */
void moe_spec_unpack(const moe_spec *s, const double *theta,
                     double *beta0, double *B1, double *A, double *b, double *c);
/* Rows per block so that one block of the Jacobian stays small (cache sized). */
int moe_block_rows(int n, int npar);

/* The workspace of one block of rows (defined in model.c). */
typedef struct moe_work moe_work;

/* Everything one pass over the data needs: the rows are cut into nblocks
 * blocks of mmax rows, and block b is summed into partial b % nparts. The
 * partition depends only on n and npar; threads share out the partials. */
typedef struct {
    int n, mmax, nblocks, nparts, nwork;
    moe_work *work;     /* one per thread (nwork) */
    double **J;         /* one mmax x npar Jacobian block per thread */
    double *A, *g, *sse; /* partial normal equations and SSEs (nparts each) */
    const double ***cols; /* per thread, the P + 1 columns [J r] of a block */
    double **gram;      /* per thread, their (P + 1) x (P + 1) Gram matrix */
    double **fh, **jv;  /* one block of f(theta + h v) and of J v per thread */
    double *theta_h;    /* theta + h v (npar) */
    const double *sw;   /* square roots of observation weights (n), or NULL */
} moe_pass;

/* Allocate for passes on up to nthreads threads (R_alloc). */
void moe_pass_alloc(const moe_spec *s, int n, int nthreads, moe_pass *ps);
/* One pass over the n rows of x (leading dimension n) at theta: returns the
 * SSE and, when A is not NULL, the upper triangle of A = J'J and g = J'r
 * (r = y - f), accumulated block by block (moe_gram_upper()); with weights
 * (ps->sw) the rows of r and J are multiplied by sqrt(w), which gives
 * sum w r^2, J'WJ and J'Wr. Partials run
 * on up to nthreads threads and are reduced in a fixed order, so the result
 * does not depend on nthreads. */
double moe_model_pass(const moe_spec *s, const double *x, const double *y,
                      const double *theta, moe_pass *ps, double *A, double *g,
                      int nthreads);
/* gvv = J'fvv at theta (npar), where fvv is the second directional derivative
 * of f along v, by the finite difference (2/h) ((f(theta + h v) - f(theta)) / h
 * - J v); with weights (ps->sw) the rows of J and fvv are multiplied by
 * sqrt(w). The partition and the order of the sums are those of
 * moe_model_pass(). */
void moe_model_pass_dir2(const moe_spec *s, const double *x, const double *theta,
                         const double *v, double h, moe_pass *ps, double *gvv, int nthreads);
/* f (length n) and, when G and H are not NULL, the gates and expert outputs
 * (n x k each) at the n rows of x. */
void moe_model_values(const moe_spec *s, const double *x, int n, const double *theta,
                      double *f, double *G, double *H, int nthreads);
/* The same in a workspace of the caller: mem holds moe_model_values_work(s, n)
 * doubles (moe_model_values() takes them from R_alloc). */
size_t moe_model_values_work(const moe_spec *s, int n);
void moe_model_values_in(const moe_spec *s, const double *x, int n, const double *theta,
                         double *f, double *G, double *H, int nthreads, double *mem);
/* The full n x npar Jacobian of f at theta (for users and tests: the fit
 * never forms it). */
void moe_model_jacobian(const moe_spec *s, const double *x, int n, const double *theta,
                        double *J, int nthreads);

/* ---- gram.c ---- */
/* The upper triangle of C'C into G (q x q, leading dimension q), for the q
 * columns col[0..q-1] of m rows each; the order of every sum is fixed by the
 * source, so that every clone returns the same bits. */
void moe_gram_upper(const double *const *col, int q, int m, double *G);

/* ---- lsq.c ---- */
/* The least-squares problem: minimise sum_r w_r (y_r - f(x_r; theta))^2 over
 * lower <= theta <= upper. */
typedef struct {
    const moe_spec *spec;
    const double *x, *y; /* n x d (leading dimension n) and n */
    int n;
    const double *lower, *upper; /* npar each (may hold -Inf / Inf), or NULL */
    const double *sw;            /* square roots of observation weights (n), or NULL */
} moe_lsq_problem;

/* Settings of the solver (see ?moe_control). The hooks let the solver stay
 * free of the R API: the adapter passes R_CheckUserInterrupt and Rprintf. */
typedef struct {
    int maxit, threads, trace;
    double ftol, xtol, gtol, lambda;
    int accel;          /* geodesic acceleration of the steps */
    int valley_m;       /* the flat-valley rule looks back this many iterations */
    double valley_tol;  /* ... and stops below this many noise units (0: off) */
    int varpro;         /* variable projection for experts linear in their parameters */
    int trust;          /* More's trust-region steps (MINPACK's lmder) */
    void (*check_interrupt)(void);
    void (*print)(const char *fmt, ...);
} moe_lsq_control;

/* Termination codes of the solver (> 0: converged). */
enum {
    MOE_LSQ_FTOL = 1,      /* relative reduction of the SSE below ftol */
    MOE_LSQ_XTOL = 2,      /* relative step below xtol */
    MOE_LSQ_GTOL = 3,      /* every column of J nearly orthogonal to r */
    MOE_LSQ_ZERO = 4,      /* SSE is zero to rounding */
    MOE_LSQ_STALL = 5,     /* no damping gives a decrease: a numerical minimum */
    MOE_LSQ_VALLEY = 6,    /* progress over valley_m iterations below the noise */
    MOE_LSQ_MAXIT = -1,    /* iteration cap reached */
    MOE_LSQ_NONFINITE = -2 /* the SSE at the start is not finite */
};

typedef struct {
    double sse;
    int iterations, evaluations, code;
    double *trace;  /* the SSE after each iteration, iterations + 1 values */
    double *jtj;    /* upper triangle of J'J at the solution, npar x npar */
    double *jtr;    /* J'r at the solution, npar */
} moe_lsq_result;

/* Levenberg-Marquardt from theta (overwritten by the solution). Scratch and
 * the result's arrays come from R_alloc. */
void moe_lsq_solve(const moe_lsq_problem *pb, const moe_lsq_control *ctl, double *theta,
                   moe_lsq_result *res);
/* The message of a termination code. */
const char *moe_lsq_message(int code);

/* ---- threads.c ---- */
/* Set OpenBLAS's thread count when R uses OpenBLAS; returns the previous
 * count, or 0 (and does nothing) for any other BLAS. No R API. */
int moe_blas_threads_set(int n);
/* Record the loading process (R_init_sigmoe). */
void moe_threads_init(void);
/* Frees the workspace the study losses keep between calls (losses.c). */
void moe_losses_release(void);
/* The OpenMP threads that may be used when n are asked for (the rule is in
 * threads.c): at most the processors, OpenMP's thread limit and the free
 * cores; 1 in a forked child. Reads the load: R's main thread only. */
int moe_threads_cap(int n);
/* The kinds of work whose break-even rows were measured. */
enum { MOE_WORK_PASS = 1, MOE_WORK_EVAL = 2 };
/* Break-even rows per thread R = R12 (12 / P)^a, from bench/threads.R on the
 * project's 2-core AMD EPYC VM (2026-12-02, with sigmoe 0.1.0, whose pass
 * summed J'J with dsyrk; bench/threads.out holds the run of 0.1.1, whose
 * cheaper pass at P = 12 paid from 8,000 rows per thread, while whole fits at
 * n = 1e4 still took 0.71 of one thread's time, so the constants stay). A pass (the
 * fit) costs about P^2 per row in its Gram matrix: two threads paid from 500 rows at
 * P = 110, from about 8000 at P = 12 (between stalls of the shared machine),
 * hence R12 = 4000 and a = 1.25 (R = 251 at P = 110). An evaluation of the
 * model hardly paid at any n or P (medians 0.9 to 1.2 up to 64000 rows), so
 * it takes a second thread only from 64000 rows, whatever P. */
#define MOE_PASS_ROWS_12 4000.0
#define MOE_PASS_ROWS_EXP 1.25
#define MOE_EVAL_ROWS_12 32000.0
#define MOE_EVAL_ROWS_EXP 0.0
/* Rows per thread at which a second thread pays for the work `kind` with
 * npar parameters. */
int moe_threads_break_even(int kind, int npar);
/* At most nthreads threads, and one per break-even rows of the n rows (at
 * least 1). Pure arithmetic: safe anywhere. */
int moe_threads_rows(int nthreads, int n, int npar, int kind);
/* The whole rule as a pure function: asked, capped by procs and limit (when
 * >= 1), by the free cores procs - round(others) (at least 1), by n / rows
 * (when rows >= 1); 1 when forked. */
int moe_threads_rule(int asked, int procs, int limit, double others, int forked, int n,
                     int rows);

#endif
