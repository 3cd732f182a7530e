/* The regression function f_G(x) = sum_i g_i(x) h(x, eta_i) and its Jacobian
 * with respect to the free parameters, evaluated over blocks of rows so that no
 * n x npar matrix is ever formed by the fit. */
#include "sigmoe.h"
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* Rows per OpenMP work item: large enough to amortise scheduling, small
 * enough to balance. Work items are elementwise, so results do not depend on
 * how they are shared between threads. */
#define MOE_ROWS_PER_TASK 256
/* Up to this many inputs the linear predictors are formed without dgemm. */
#define MOE_DIRECT_MAX_D 4
/* Blocks are summed into at most this many partial normal equations, which
 * threads share out; the partition depends only on n and npar. */
#define MOE_MAX_PARTS 8

static inline int thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* Row tasks of a block of m rows: how many, and how many rows task t has.
 * The drivers below run the tasks in a plain loop unless several threads
 * are asked for: an OpenMP region with a false if() clause still enters
 * libgomp for every block, which cost 15% of a one-thread fit at n = 1e5
 * and 30% at n = 3000 (measured), and passes always run their blocks on
 * one thread. */
static inline int n_tasks(int m) { return (m + MOE_ROWS_PER_TASK - 1) / MOE_ROWS_PER_TASK; }
static inline int task_rows(int t, int m)
{
    int left = m - t * MOE_ROWS_PER_TASK;
    return left < MOE_ROWS_PER_TASK ? left : MOE_ROWS_PER_TASK;
}

int moe_spec_npar(int k, int d, int gating, int expert)
{
    int gated = gating == MOE_GATE_SOFTMAX ? k - 1 : k;
    int per_expert = expert == MOE_EXPERT_CONSTANT ? 1 : d + 1;
    return gated * (1 + d) + k * per_expert;
}

int moe_spec_gated(const moe_spec *s, int i)
{
    return !(s->gating == MOE_GATE_SOFTMAX && i == s->k - 1);
}

void moe_spec_unpack(const moe_spec *s, const double *theta,
                     double *beta0, double *B1, double *A, double *b)
{
    int k = s->k, d = s->d, pos = 0;
    for (int i = 0; i < k; i++) {
        if (moe_spec_gated(s, i)) {
            beta0[i] = theta[pos++];
            for (int j = 0; j < d; j++) B1[i + (size_t) j * k] = theta[pos++];
        } else {
            beta0[i] = 0.0;
            for (int j = 0; j < d; j++) B1[i + (size_t) j * k] = 0.0;
        }
        if (s->expert != MOE_EXPERT_CONSTANT) {
            for (int j = 0; j < d; j++) A[i + (size_t) j * k] = theta[pos++];
        } else {
            for (int j = 0; j < d; j++) A[i + (size_t) j * k] = 0.0;
        }
        b[i] = theta[pos++];
    }
}

int moe_block_rows(int n, int npar)
{
    /* About 128 KiB of Jacobian per block, so that a block's workspace stays
     * in cache between its evaluation and dsyrk, and enough blocks to share
     * between threads (at least 8 when n allows), but at least 256 rows so
     * that dsyrk has a useful inner dimension. */
    int m = (1 << 14) / (npar > 0 ? npar : 1);
    int eighth = (n + MOE_MAX_PARTS - 1) / MOE_MAX_PARTS;
    if (m > eighth) m = eighth;
    if (m < 256) m = 256;
    if (m > n) m = n;
    return m > 0 ? m : 1;
}

void moe_work_alloc(const moe_spec *s, int mmax, moe_work *w)
{
    size_t k = s->k, d = s->d, mk = (size_t) mmax * k;
    w->mmax = mmax;
    w->beta0 = (double *) R_alloc(k, sizeof(double));
    w->B1 = (double *) R_alloc(k * d, sizeof(double));
    w->A = (double *) R_alloc(k * d, sizeof(double));
    w->b = (double *) R_alloc(k, sizeof(double));
    w->Z = (double *) R_alloc(mk, sizeof(double));
    w->T = (double *) R_alloc(mk, sizeof(double));
    w->G = (double *) R_alloc(mk, sizeof(double));
    w->H = (double *) R_alloc(mk, sizeof(double));
    w->DH = (double *) R_alloc(mk, sizeof(double));
    w->U = (double *) R_alloc(mk, sizeof(double));
    w->V = (double *) R_alloc(mk, sizeof(double));
    w->f = (double *) R_alloc(mmax, sizeof(double));
}

void moe_work_set(const moe_spec *s, const double *theta, moe_work *w)
{
    moe_spec_unpack(s, theta, w->beta0, w->B1, w->A, w->b);
}

/* Linear predictors X P' for a block of rows: out (m x k) = x[rows, ] %*% t(P). */
static void block_linear(const double *x, int ldx, int m, int d, const double *P,
                         int k, double *out)
{
    const double one = 1.0, zero = 0.0;
    F77_CALL(dgemm)("N", "T", &m, &k, &d, &one, x, &ldx, P, &k, &zero, out, &m
                    FCONE FCONE);
}

/* Rows [r0, r0 + mr) of a block of m rows that starts at row0 of x: gate
 * inputs, gates, experts and f, and U, V when want_deriv. One OpenMP work
 * item; compiled once per instruction set (MOE_CLONES). */
MOE_CLONES
static void block_rows(const moe_spec *s, const double *x, int ldx, int row0, int m,
                       int r0, int mr, int want_deriv, int direct, moe_work *w)
{
    int k = s->k, d = s->d, constant = s->expert == MOE_EXPERT_CONSTANT;
    double *const Z = w->Z, *const T = w->T, *const G = w->G, *const H = w->H;
    double *const DH = w->DH, *const U = w->U, *const V = w->V;
    double *restrict f = w->f + r0;
    for (int l = 0; l < k; l++) {
        size_t off = r0 + (size_t) l * m;
        double *restrict z = Z + off, *restrict t = T + off;
        const double b0 = w->beta0[l], b = w->b[l];
        if (direct) {
            const double *restrict xr = x + row0 + r0;
            MOE_SIMD
            for (int r = 0; r < mr; r++) z[r] = b0;
            for (int j = 0; j < d; j++) {
                const double cj = w->B1[l + (size_t) j * k];
                const double *restrict xj = xr + (size_t) j * ldx;
                MOE_SIMD
                for (int r = 0; r < mr; r++) z[r] += cj * xj[r];
            }
            MOE_SIMD
            for (int r = 0; r < mr; r++) t[r] = b;
            if (!constant)
                for (int j = 0; j < d; j++) {
                    const double cj = w->A[l + (size_t) j * k];
                    const double *restrict xj = xr + (size_t) j * ldx;
                    MOE_SIMD
                    for (int r = 0; r < mr; r++) t[r] += cj * xj[r];
                }
        } else {
            MOE_SIMD
            for (int r = 0; r < mr; r++) z[r] += b0;
            if (constant) {
                MOE_SIMD
                for (int r = 0; r < mr; r++) t[r] = b;
            } else {
                MOE_SIMD
                for (int r = 0; r < mr; r++) t[r] += b;
            }
        }
        moe_expert_eval(s->expert, s->degree, t, mr, H + off, want_deriv ? DH + off : NULL);
    }
    /* f is not computed yet: its rows serve as the gates' scratch */
    moe_gate_eval(s->gating, Z + r0, m, mr, k, G + r0, f);
    {
        const double *restrict g = G + r0, *restrict h = H + r0;
        MOE_SIMD
        for (int r = 0; r < mr; r++) f[r] = g[r] * h[r];
    }
    for (int l = 1; l < k; l++) {
        const double *restrict g = G + r0 + (size_t) l * m, *restrict h = H + r0 + (size_t) l * m;
        MOE_SIMD
        for (int r = 0; r < mr; r++) f[r] += g[r] * h[r];
    }
    if (want_deriv) {
        moe_gate_score(s->gating, Z + r0, G + r0, H + r0, f, m, mr, k, U + r0);
        for (int l = 0; l < k; l++) {
            size_t off = r0 + (size_t) l * m;
            const double *restrict g = G + off, *restrict dh = DH + off;
            double *restrict v = V + off;
            MOE_SIMD
            for (int r = 0; r < mr; r++) v[r] = g[r] * dh[r];
        }
    }
}

void moe_model_block(const moe_spec *s, const double *x, int ldx, int row0, int m,
                     int want_deriv, moe_work *w, int nthreads)
{
    int k = s->k, d = s->d, constant = s->expert == MOE_EXPERT_CONSTANT;
    /* With few inputs dgemm's packing costs more than the products; the
     * linear predictors are then formed row-wise in the parallel loop. */
    int direct = d <= MOE_DIRECT_MAX_D;
    if (!direct) {
        block_linear(x + row0, ldx, m, d, w->B1, k, w->Z);
        if (!constant) block_linear(x + row0, ldx, m, d, w->A, k, w->T);
    }
    int ntask = n_tasks(m);
    if (nthreads > 1 && ntask > 1) {
#ifdef _OPENMP
#pragma omp parallel for num_threads(nthreads) schedule(static)
#endif
        for (int task = 0; task < ntask; task++)
            block_rows(s, x, ldx, row0, m, task * MOE_ROWS_PER_TASK, task_rows(task, m),
                       want_deriv, direct, w);
    } else {
        for (int task = 0; task < ntask; task++)
            block_rows(s, x, ldx, row0, m, task * MOE_ROWS_PER_TASK, task_rows(task, m),
                       want_deriv, direct, w);
    }
}

/* Rows [r0, r0 + mr) of the Jacobian block J (m x npar) from U and V. */
MOE_CLONES
static void jac_rows(const moe_spec *s, const double *x, int ldx, int row0, int m,
                     int r0, int mr, const moe_work *w, double *J)
{
    int k = s->k, d = s->d, constant = s->expert == MOE_EXPERT_CONSTANT;
    const double *xb = x + row0 + r0;
    size_t col = 0;
    for (int i = 0; i < k; i++) {
        const double *restrict u = w->U + r0 + (size_t) i * m, *restrict v = w->V + r0 + (size_t) i * m;
        double *restrict Jc;
        if (moe_spec_gated(s, i)) {
            Jc = J + r0 + col++ * m;
            MOE_SIMD
            for (int r = 0; r < mr; r++) Jc[r] = u[r];
            for (int j = 0; j < d; j++) {
                const double *restrict xj = xb + (size_t) j * ldx;
                Jc = J + r0 + col++ * m;
                MOE_SIMD
                for (int r = 0; r < mr; r++) Jc[r] = u[r] * xj[r];
            }
        }
        if (!constant) {
            for (int j = 0; j < d; j++) {
                const double *restrict xj = xb + (size_t) j * ldx;
                Jc = J + r0 + col++ * m;
                MOE_SIMD
                for (int r = 0; r < mr; r++) Jc[r] = v[r] * xj[r];
            }
        }
        Jc = J + r0 + col++ * m;
        MOE_SIMD
        for (int r = 0; r < mr; r++) Jc[r] = v[r];
    }
}

void moe_model_jac_block(const moe_spec *s, const double *x, int ldx, int row0,
                         int m, const moe_work *w, double *J, int nthreads)
{
    int ntask = n_tasks(m);
    if (nthreads > 1 && ntask > 1) {
#ifdef _OPENMP
#pragma omp parallel for num_threads(nthreads) schedule(static)
#endif
        for (int task = 0; task < ntask; task++)
            jac_rows(s, x, ldx, row0, m, task * MOE_ROWS_PER_TASK, task_rows(task, m), w, J);
    } else {
        for (int task = 0; task < ntask; task++)
            jac_rows(s, x, ldx, row0, m, task * MOE_ROWS_PER_TASK, task_rows(task, m), w, J);
    }
}

void moe_pass_alloc(const moe_spec *s, int n, int nthreads, moe_pass *ps)
{
    int P = s->npar;
    ps->n = n;
    ps->mmax = moe_block_rows(n, P);
    ps->nblocks = (n + ps->mmax - 1) / ps->mmax;
    ps->nparts = ps->nblocks < MOE_MAX_PARTS ? ps->nblocks : MOE_MAX_PARTS;
    /* one workspace per thread, not per partial: a thread reuses its own,
     * which stays in cache from block to block */
    ps->nwork = nthreads < ps->nparts ? nthreads : ps->nparts;
    if (ps->nwork < 1) ps->nwork = 1;
    ps->work = (moe_work *) R_alloc(ps->nwork, sizeof(moe_work));
    ps->J = (double **) R_alloc(ps->nwork, sizeof(double *));
    for (int t = 0; t < ps->nwork; t++) {
        moe_work_alloc(s, ps->mmax, &ps->work[t]);
        ps->J[t] = (double *) R_alloc((size_t) ps->mmax * P, sizeof(double));
    }
    ps->A = (double *) R_alloc((size_t) ps->nparts * P * P, sizeof(double));
    ps->g = (double *) R_alloc((size_t) ps->nparts * P, sizeof(double));
    ps->sse = (double *) R_alloc(ps->nparts, sizeof(double));
}

/* The blocks of partial p, in order, with the workspace of thread t: SSE,
 * and the upper triangle of J'J and J'r when want_normal. Runs on one thread
 * and calls BLAS single-threaded. Every value a block reads from the
 * workspace is written by that block first, so which workspace a partial
 * gets does not change its sums. */
static void pass_part(const moe_spec *s, const double *x, const double *y,
                      moe_pass *ps, int p, int t, int want_normal)
{
    int P = s->npar, n = ps->n, inc = 1;
    const double one = 1.0;
    moe_work *w = &ps->work[t];
    double *A = ps->A + (size_t) p * P * P, *g = ps->g + (size_t) p * P, *J = ps->J[t];
    double sse = 0.0;
    if (want_normal) {
        memset(A, 0, sizeof(double) * (size_t) P * P);
        memset(g, 0, sizeof(double) * (size_t) P);
    }
    for (int b = p; b < ps->nblocks; b += ps->nparts) {
        int row0 = b * ps->mmax;
        int m = n - row0 < ps->mmax ? n - row0 : ps->mmax;
        moe_model_block(s, x, n, row0, m, want_normal, w, 1);
        /* residuals overwrite f */
        for (int r = 0; r < m; r++) {
            double res = y[row0 + r] - w->f[r];
            w->f[r] = res;
            sse += res * res;
        }
        if (want_normal) {
            moe_model_jac_block(s, x, n, row0, m, w, J, 1);
            F77_CALL(dsyrk)("U", "T", &P, &m, &one, J, &m, &one, A, &P FCONE FCONE);
            F77_CALL(dgemv)("T", &m, &P, &one, J, &m, w->f, &inc, &one, g, &inc FCONE);
        }
    }
    ps->sse[p] = sse;
}

double moe_model_pass(const moe_spec *s, const double *x, const double *y,
                      const double *theta, moe_pass *ps, double *A, double *g,
                      int nthreads)
{
    int P = s->npar, np = ps->nparts, want = A != NULL;
    int nt = nthreads < ps->nwork ? nthreads : ps->nwork;
    for (int t = 0; t < nt; t++) moe_work_set(s, theta, &ps->work[t]);
    /* BLAS runs single-threaded inside every pass, whatever nthreads: a
     * multi-threaded BLAS may split a block's sums differently from a
     * single-threaded one, which would make the result depend on how many
     * threads the pass uses. The blocks are small, so BLAS threads would not
     * pay anyway. Nothing below can raise an R error, so the count is always
     * restored. */
    int prev = moe_blas_threads_set(1);
    if (nt > 1) {
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static, 1)
#endif
        for (int p = 0; p < np; p++) pass_part(s, x, y, ps, p, thread_id(), want);
    } else {
        for (int p = 0; p < np; p++) pass_part(s, x, y, ps, p, 0, want);
    }
    if (prev > 1) moe_blas_threads_set(prev);
    /* reduce the partials in a fixed order: the sums do not depend on nthreads */
    double sse = 0.0;
    for (int p = 0; p < np; p++) sse += ps->sse[p];
    if (want) {
        memcpy(A, ps->A, sizeof(double) * (size_t) P * P);
        memcpy(g, ps->g, sizeof(double) * (size_t) P);
        for (int p = 1; p < np; p++) {
            const double *Ap = ps->A + (size_t) p * P * P, *gp = ps->g + (size_t) p * P;
            for (int j = 0; j < P; j++) {
                for (int i = 0; i <= j; i++) A[i + (size_t) j * P] += Ap[i + (size_t) j * P];
                g[j] += gp[j];
            }
        }
    }
    return sse;
}

/* ---- .Call adapters ---- */

moe_spec moe_spec_from_sexp(SEXP spec, SEXP theta, SEXP x)
{
    if (!Rf_isInteger(spec) || XLENGTH(spec) != 5) Rf_error("internal: spec must be an integer vector of length 5");
    if (!Rf_isReal(theta)) Rf_error("internal: theta must be double");
    if (!Rf_isReal(x) || !Rf_isMatrix(x)) Rf_error("internal: x must be a double matrix");
    const int *sp = INTEGER(spec);
    moe_spec s = {sp[0], sp[1], sp[2], sp[3], sp[4], 0};
    if (s.k < 1 || s.d < 1) Rf_error("internal: bad k or d");
    if (s.gating < MOE_GATE_SIGMOID || s.gating > MOE_GATE_NSIGMOID) Rf_error("internal: bad gating code");
    if (s.expert < MOE_EXPERT_LINEAR || s.expert > MOE_EXPERT_CONSTANT) Rf_error("internal: bad expert code");
    if (s.expert == MOE_EXPERT_POLY && s.degree < 1) Rf_error("internal: bad degree");
    s.npar = moe_spec_npar(s.k, s.d, s.gating, s.expert);
    if (XLENGTH(theta) != s.npar) Rf_error("internal: theta has length %d, expected %d", (int) XLENGTH(theta), s.npar);
    if (Rf_ncols(x) != s.d) Rf_error("internal: x has %d columns, expected %d", Rf_ncols(x), s.d);
    return s;
}

int moe_nthreads(SEXP nthreads)
{
    int nt = Rf_asInteger(nthreads);
    return nt == NA_INTEGER || nt < 1 ? 1 : nt;
}

/* f at the rows of x; with components = TRUE a list(f, gates, experts). */
SEXP C_model_eval(SEXP spec, SEXP theta, SEXP x, SEXP components, SEXP nthreads)
{
    moe_spec s = moe_spec_from_sexp(spec, theta, x);
    int n = Rf_nrows(x), k = s.k, comp = Rf_asLogical(components), nt = moe_nthreads(nthreads);
    SEXP f = PROTECT(Rf_allocVector(REALSXP, n));
    SEXP G = PROTECT(comp ? Rf_allocMatrix(REALSXP, n, k) : R_NilValue);
    SEXP H = PROTECT(comp ? Rf_allocMatrix(REALSXP, n, k) : R_NilValue);
    if (n > 0) {
        moe_work w;
        moe_work_alloc(&s, moe_block_rows(n, s.npar), &w);
        moe_work_set(&s, REAL(theta), &w);
        for (int row0 = 0; row0 < n; row0 += w.mmax) {
            int m = n - row0 < w.mmax ? n - row0 : w.mmax;
            moe_model_block(&s, REAL(x), n, row0, m, 0, &w, nt);
            memcpy(REAL(f) + row0, w.f, sizeof(double) * m);
            if (comp)
                for (int l = 0; l < k; l++) {
                    memcpy(REAL(G) + row0 + (size_t) l * n, w.G + (size_t) l * m, sizeof(double) * m);
                    memcpy(REAL(H) + row0 + (size_t) l * n, w.H + (size_t) l * m, sizeof(double) * m);
                }
        }
    }
    SEXP out = f;
    if (comp) {
        const char *names[] = {"f", "gates", "experts"};
        const SEXP elts[] = {f, G, H};
        out = moe_named_list(3, names, elts);
    }
    UNPROTECT(3);
    return out;
}

/* The full n x npar Jacobian, for users and tests; the fit never forms it. */
SEXP C_model_jacobian(SEXP spec, SEXP theta, SEXP x, SEXP nthreads)
{
    moe_spec s = moe_spec_from_sexp(spec, theta, x);
    int n = Rf_nrows(x), P = s.npar, nt = moe_nthreads(nthreads);
    SEXP out = PROTECT(Rf_allocMatrix(REALSXP, n, P));
    if (n > 0) {
        moe_work w;
        moe_work_alloc(&s, moe_block_rows(n, P), &w);
        double *J = (double *) R_alloc((size_t) w.mmax * P, sizeof(double));
        moe_work_set(&s, REAL(theta), &w);
        for (int row0 = 0; row0 < n; row0 += w.mmax) {
            int m = n - row0 < w.mmax ? n - row0 : w.mmax;
            moe_model_block(&s, REAL(x), n, row0, m, 1, &w, nt);
            moe_model_jac_block(&s, REAL(x), n, row0, m, &w, J, nt);
            for (int c = 0; c < P; c++)
                memcpy(REAL(out) + row0 + (size_t) c * n, J + (size_t) c * m, sizeof(double) * m);
        }
    }
    UNPROTECT(1);
    return out;
}

/* SSE, J'J (full, symmetric) and J'r at theta, accumulated block by block. */
SEXP C_model_crossprod(SEXP spec, SEXP theta, SEXP x, SEXP y, SEXP nthreads)
{
    moe_spec s = moe_spec_from_sexp(spec, theta, x);
    int n = Rf_nrows(x), P = s.npar, nt = moe_nthreads(nthreads);
    if (!Rf_isReal(y) || XLENGTH(y) != n) Rf_error("internal: y must be double of length nrow(x)");
    SEXP jtj = PROTECT(Rf_allocMatrix(REALSXP, P, P));
    SEXP jtr = PROTECT(Rf_allocVector(REALSXP, P));
    double sse = 0.0;
    memset(REAL(jtj), 0, sizeof(double) * (size_t) P * P);
    memset(REAL(jtr), 0, sizeof(double) * (size_t) P);
    if (n > 0) {
        moe_pass ps;
        moe_pass_alloc(&s, n, nt, &ps);
        sse = moe_model_pass(&s, REAL(x), REAL(y), REAL(theta), &ps, REAL(jtj), REAL(jtr), nt);
    }
    double *A = REAL(jtj);
    for (int j = 0; j < P; j++)
        for (int i = j + 1; i < P; i++) A[i + (size_t) j * P] = A[j + (size_t) i * P];
    SEXP ssev = PROTECT(Rf_ScalarReal(sse));
    const char *names[] = {"sse", "jtj", "jtr"};
    const SEXP elts[] = {ssev, jtj, jtr};
    SEXP out = moe_named_list(3, names, elts);
    UNPROTECT(3);
    return out;
}

/* The SSE alone at theta: the pass a rejected Levenberg-Marquardt trial step
 * costs (no derivatives, no normal equations, nothing of length n allocated). */
SEXP C_model_sse(SEXP spec, SEXP theta, SEXP x, SEXP y, SEXP nthreads)
{
    moe_spec s = moe_spec_from_sexp(spec, theta, x);
    int n = Rf_nrows(x), nt = moe_nthreads(nthreads);
    if (!Rf_isReal(y) || XLENGTH(y) != n) Rf_error("internal: y must be double of length nrow(x)");
    double sse = 0.0;
    if (n > 0) {
        moe_pass ps;
        moe_pass_alloc(&s, n, nt, &ps);
        sse = moe_model_pass(&s, REAL(x), REAL(y), REAL(theta), &ps, NULL, NULL, nt);
    }
    return Rf_ScalarReal(sse);
}

SEXP moe_named_list(int n, const char **names, const SEXP *elts)
{
    SEXP out = PROTECT(Rf_allocVector(VECSXP, n));
    SEXP nms = PROTECT(Rf_allocVector(STRSXP, n));
    for (int i = 0; i < n; i++) {
        SET_VECTOR_ELT(out, i, elts[i]);
        SET_STRING_ELT(nms, i, Rf_mkChar(names[i]));
    }
    Rf_setAttrib(out, R_NamesSymbol, nms);
    UNPROTECT(2);
    return out;
}

/* Index (1-based) of the first non-finite value of a double vector, 0 if none;
 * lets R validate large inputs without allocating a logical copy. */
SEXP C_first_nonfinite(SEXP v)
{
    if (!Rf_isReal(v)) Rf_error("internal: v must be double");
    R_xlen_t len = XLENGTH(v);
    const double *p = REAL(v);
    for (R_xlen_t i = 0; i < len; i++)
        if (!R_FINITE(p[i])) return Rf_ScalarReal((double) (i + 1));
    return Rf_ScalarReal(0.0);
}
