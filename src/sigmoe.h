/* sigmoe: kernels shared by the C files.
 *
 * Two layers (see STYLE.md): C_<area>_<verb>() adapters in the .c files check
 * SEXP types and allocate results; the moe_<area>_<verb>() kernels declared
 * here work on raw pointers and never touch the R API, so they are safe to run
 * inside OpenMP regions.
 *
 * Matrices are column-major, as in R. A data matrix x is n x d with leading
 * dimension ldx (>= n) so that a block of rows is addressed as x + row0 with
 * the same ldx, without copying.
 */
#ifndef SIGMOE_H
#define SIGMOE_H

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

/* Elementwise loops over rows are vectorised with OpenMP's simd directive
 * (R compiles at -O2, where gcc hardly vectorises on its own); without OpenMP
 * the loops stay as they are. */
#ifdef _OPENMP
#define MOE_SIMD _Pragma("omp simd")
#else
#define MOE_SIMD
#endif

/* Gate codes; the same integers are used on the R side (R/gating.R). */
enum {
    MOE_GATE_SIGMOID = 1,
    MOE_GATE_SOFTMAX = 2,
    MOE_GATE_NSIGMOID = 3 /* normalized sigmoid: sigma(z_i) / sum_j sigma(z_j) */
};

/* Expert codes; the same integers are used on the R side (R/experts.R). */
enum {
    MOE_EXPERT_LINEAR = 1,
    MOE_EXPERT_RELU = 2,
    MOE_EXPERT_GELU = 3,
    MOE_EXPERT_SIGMOID = 4,
    MOE_EXPERT_TANH = 5,
    MOE_EXPERT_POLY = 6,
    MOE_EXPERT_CONSTANT = 7
};

/* A model structure: k experts on d inputs. The free parameters theta are
 * stored expert by expert; for expert i:
 *   beta0_i, beta1_i[1..d]   unless the gate is softmax and i == k (reference)
 *   a_i[1..d]                unless the expert is constant
 *   b_i
 * npar is the length of theta. */
typedef struct {
    int k, d, gating, expert, degree, npar;
} moe_spec;

int moe_spec_npar(int k, int d, int gating, int expert);
int moe_spec_gated(const moe_spec *s, int i); /* 1 if expert i has free gate parameters */

/* Parameters unpacked into the layout the kernels use: beta0 (k), B1 (k x d),
 * A (k x d), b (k). The softmax reference row and constant-expert slopes are 0. */
void moe_spec_unpack(const moe_spec *s, const double *theta,
                     double *beta0, double *B1, double *A, double *b);

/* ---- gating.c ---- */
/* Sigmoid of z and 1 - sigmoid of z, without overflow. */
void moe_sigmoid2(double z, double *s, double *one_minus_s);
/* g = gate(z) row by row for m rows of k columns; z and g have leading
 * dimension ld, so a thread can take a range of rows of a larger block. */
void moe_gate_eval(int gating, const double *z, int ld, int m, int k, double *g);
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
/* Workspace for evaluating a block of at most mmax rows. */
typedef struct {
    int mmax;
    double *beta0, *B1, *A, *b;    /* unpacked parameters */
    double *Z, *T, *G, *H, *DH;    /* mmax x k each */
    double *f;                     /* mmax */
    double *U, *V;                 /* d f / d z and d f / d t, mmax x k */
} moe_work;

/* Rows per block so that one block of the Jacobian stays small (cache sized). */
int moe_block_rows(int n, int npar);
/* Allocate a workspace with R_alloc (freed by R on error or interrupt). */
void moe_work_alloc(const moe_spec *s, int mmax, moe_work *w);
/* Set the unpacked parameters of w from theta. */
void moe_work_set(const moe_spec *s, const double *theta, moe_work *w);
/* Evaluate rows [row0, row0 + m) of x: gate inputs, gates, experts and f into
 * w. If want_deriv, also fill U and V. Calls BLAS dgemm. */
void moe_model_block(const moe_spec *s, const double *x, int ldx, int row0, int m,
                     int want_deriv, moe_work *w, int nthreads);
/* Fill the m x npar Jacobian block J (leading dimension m) from w->U, w->V. */
void moe_model_jac_block(const moe_spec *s, const double *x, int ldx, int row0,
                         int m, const moe_work *w, double *J, int nthreads);

/* Everything one pass over the data needs: the rows are cut into nblocks
 * blocks of mmax rows, and block b is summed into partial b % nparts. */
typedef struct {
    int n, mmax, nblocks, nparts;
    moe_work *work;     /* one per partial */
    double **J;         /* one mmax x npar Jacobian block per partial */
    double *A, *g, *sse; /* partial normal equations and SSEs */
} moe_pass;

void moe_pass_alloc(const moe_spec *s, int n, moe_pass *ps);
/* One pass over the n rows of x (leading dimension n) at theta: returns the
 * SSE and, when A is not NULL, the upper triangle of A = J'J and g = J'r
 * (r = y - f), accumulated block by block with dsyrk and dgemv. Partials run
 * on up to nthreads threads and are reduced in a fixed order, so the result
 * does not depend on nthreads. */
double moe_model_pass(const moe_spec *s, const double *x, const double *y,
                      const double *theta, moe_pass *ps, double *A, double *g,
                      int nthreads);

/* ---- threads.c ---- */
/* Set OpenBLAS's thread count when R uses OpenBLAS; returns the previous
 * count, or 0 (and does nothing) for any other BLAS. No R API. */
int moe_blas_threads_set(int n);

/* Adapter helpers (these touch the R API): parse c(k, d, gating, expert,
 * degree) and check theta and x against it; read a thread count. */
moe_spec moe_spec_from_sexp(SEXP spec, SEXP theta, SEXP x);
int moe_nthreads(SEXP nthreads);
/* A list of n elements (already protected by the caller or fresh) with names. */
SEXP moe_named_list(int n, const char **names, const SEXP *elts);

/* ---- losses.c ---- */
/* Voronoi cell of each of k fitted atoms among kt true atoms (locations are
 * rows of k x q and kt x q matrices; ties go to the lowest index). */
void moe_losses_cells(int k, int kt, int q, const double *loc, const double *loct, int *cell);
/* The Voronoi loss of SPEC section 3 with its per-cell terms. */
double moe_losses_voronoi(int k, int kt, int d, int q, const double *w, const double *beta0,
                          const double *loc, const double *wt, const double *beta0t,
                          const double *loct, int use_c, double r_exact, double r_over,
                          int *cell, int *count, double *mass, double *term);
/* L2 distances between fitted and true experts on the rows of x. */
void moe_losses_expert(int expert, int degree, const double *x, int n, int d, int k,
                       const double *A, const double *b, int kt, const double *At,
                       const double *bt, double *D, double *work);

#endif
