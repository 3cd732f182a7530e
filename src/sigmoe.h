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

#include <stdint.h>
#include <string.h>
#include <math.h>

/* ---- vectorisation ----
 * Elementwise loops over rows are vectorised with OpenMP's simd directive
 * (R compiles at -O2, where gcc hardly vectorises on its own); without OpenMP
 * the loops stay as they are.
 *
 * Two settings make gcc's vector code possible and keep it exact:
 * - no-trapping-math lets gcc turn the selects of branch-free code (z >= 0 ?
 *   a : b) into vector blends instead of branches. It only tells gcc that
 *   floating-point exceptions are not inspected (R never does); every value
 *   computed is unchanged.
 * - fp-contract=off forbids fusing a * b + c into one instruction, so that the
 *   AVX-512 clone (below), whose instruction set has fused multiply-add,
 *   rounds exactly as the SSE2 and AVX2 ones. With it, every clone of a
 *   kernel returns bit-identical results, and fits do not depend on the CPU
 *   through sigmoe's own code.
 * clang does not trap by default and does not contract across statements. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize ("no-trapping-math", "fp-contract=off")
#endif

#ifdef _OPENMP
#define MOE_SIMD _Pragma("omp simd")
#else
#define MOE_SIMD
#endif

/* MOE_CLONES compiles a kernel for AVX-512, AVX2 and the baseline x86-64
 * instruction set; the loader picks the best the CPU has (gcc's function
 * multi-versioning, which needs glibc's ifunc). Elsewhere it is empty, and
 * defining it empty (-DMOE_CLONES=) builds the baseline kernels alone. */
#ifndef MOE_CLONES
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    defined(__GLIBC__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define MOE_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#endif
#endif
#ifndef MOE_CLONES
#define MOE_CLONES
#endif

/* 2^n for t = 1.5 * 2^52 + n with -1022 <= n <= 1023: n sits in the low bits
 * of t's significand, and moves into the exponent field. */
static inline double moe_pow2_bits(double t)
{
    uint64_t u;
    memcpy(&u, &t, sizeof u);
    u = (u - UINT64_C(0x4338000000000000) + UINT64_C(1023)) << 52;
    double out;
    memcpy(&out, &u, sizeof out);
    return out;
}

/* e^x for x <= 0 (also -0, -Inf and NaN) without a branch or a call, so that
 * loops over it vectorise (libm's exp is scalar and was half of a fit's
 * time). It agrees with libm's exp to a relative 2.3e-16 over the whole range,
 * subnormal results included (tests/testthat/test-gating.R). x = n log 2 + r
 * with |r| <= log(2) / 2; e^r by its Taylor polynomial of degree 13
 * (truncation error below 5e-18); 2^n applied as two
 * factors 2^n1 2^n2 so that each stays a normal number down to x = -745.5,
 * below which e^x rounds to 0. NaN propagates through r. */
static inline double moe_exp_nonpos(double x)
{
    const double shift = 6755399441055744.0; /* 1.5 * 2^52: rounds to an integer */
    const double log2e = 1.4426950408889634074;
    const double ln2_hi = 6.93147180369123816490e-01; /* 33 bits: n * ln2_hi is exact */
    const double ln2_lo = 1.90821492927058770002e-10;
    x = x < -745.5 ? -745.5 : x;
    double t = x * log2e + shift;
    double n = t - shift;
    double r = (x - n * ln2_hi) - n * ln2_lo;
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    double t1 = n * 0.5 + shift;
    double t2 = (n - (t1 - shift)) + shift;
    return p * moe_pow2_bits(t1) * moe_pow2_bits(t2);
}

/* sigma(z) and 1 - sigma(z) = sigma(-z) from e = e^{-|z|}, branch-free: with
 * s = sign(z), the numerators (1 + s + (1 - s) e) / 2 and
 * (1 - s + (1 + s) e) / 2 are exactly 1 or e, so both keep full relative
 * precision in the tails. */
static inline void moe_sigmoid_pair(double z, double *s, double *one_minus_s)
{
    double e = moe_exp_nonpos(-fabs(z)), sg = copysign(1.0, z);
    *s = 0.5 * ((1.0 + sg) + (1.0 - sg) * e) / (1.0 + e);
    *one_minus_s = 0.5 * ((1.0 - sg) + (1.0 + sg) * e) / (1.0 + e);
}

/* sigma(z) alone: the same arithmetic as moe_sigmoid_pair (the unused half
 * is dropped by the compiler), so values never depend on whether a
 * derivative is asked for. */
static inline double moe_sigmoid(double z)
{
    double s, om;
    moe_sigmoid_pair(z, &s, &om);
    return s;
}

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
 * blocks of mmax rows, and block b is summed into partial b % nparts. The
 * partition depends only on n and npar; threads share out the partials. */
typedef struct {
    int n, mmax, nblocks, nparts, nwork;
    moe_work *work;     /* one per thread (nwork) */
    double **J;         /* one mmax x npar Jacobian block per thread */
    double *A, *g, *sse; /* partial normal equations and SSEs (nparts each) */
} moe_pass;

/* Allocate for passes on up to nthreads threads. */
void moe_pass_alloc(const moe_spec *s, int n, int nthreads, moe_pass *ps);
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
