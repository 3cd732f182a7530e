/* The regression function f_G(x) = sum_i g_i(x) h(x, eta_i) and its Jacobian
 * with respect to the free parameters, evaluated over blocks of rows so that no
 * n x npar matrix is ever formed by the fit. */
#include "adapt.h"
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

/* The workspace of a block of at most mmax rows. */
struct moe_work {
    int mmax;
    double *beta0, *B1, *A, *b, *c; /* unpacked parameters (c: output weights) */
    double *Z, *T, *G, *H, *DH;    /* mmax x k each */
    double *HC;                    /* c h, mmax x k, only with output weights */
    double *f;                     /* mmax */
    double *U, *V;                 /* d f / d z and d f / d t, mmax x k */
};

static inline int thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* The one parallel loop of the model: tasks 0..ntask-1 of fn, on nthreads
 * threads in chunks of `chunk` tasks dealt round robin, or in a plain loop.
 * The plain loop is kept for one thread because an OpenMP region with a false
 * if() clause still enters libgomp for every block, which cost 15% of a
 * one-thread fit at n = 1e5 and 30% at n = 3000 (measured), and the passes
 * run their blocks on one thread. */
typedef void (*task_fn)(void *ctx, int task);

static void run_tasks(int ntask, int nthreads, int chunk, task_fn fn, void *ctx)
{
    if (nthreads > 1 && ntask > 1) {
#ifdef _OPENMP
#pragma omp parallel for num_threads(nthreads) schedule(static, chunk)
#endif
        for (int t = 0; t < ntask; t++) fn(ctx, t);
    } else {
        for (int t = 0; t < ntask; t++) fn(ctx, t);
    }
}

/* Row tasks of a block of m rows, and the chunk that gives each thread one
 * contiguous range of them. */
static inline int n_row_tasks(int m) { return (m + MOE_ROWS_PER_TASK - 1) / MOE_ROWS_PER_TASK; }
static inline int row_chunk(int ntask, int nthreads)
{
    return nthreads > 1 ? (ntask + nthreads - 1) / nthreads : ntask;
}

/* theta unpacked for the kernels (moe.h). */
void moe_spec_unpack(const moe_spec *s, const double *theta,
                     double *beta0, double *B1, double *A, double *b, double *c)
{
    int k = s->k, d = s->d;
    for (int i = 0; i < k; i++) {
        if (moe_theta_gated(s, i)) {
            const double *g = theta + moe_theta_gate(s, i);
            beta0[i] = g[0];
            for (int j = 0; j < d; j++) B1[i + (size_t) j * k] = g[1 + j];
        } else {
            beta0[i] = 0.0;
            for (int j = 0; j < d; j++) B1[i + (size_t) j * k] = 0.0;
        }
        const double *e = theta + moe_theta_expert(s, i);
        for (int j = 0; j < d; j++)
            A[i + (size_t) j * k] = s->expert != MOE_EXPERT_CONSTANT ? e[j] : 0.0;
        b[i] = theta[moe_theta_b(s, i)];
        if (c) c[i] = s->outw ? theta[moe_theta_c(s, i)] : 1.0;
    }
}

int moe_block_rows(int n, int npar)
{
    /* About 128 KiB of Jacobian per block, so that a block's workspace stays
     * in cache between its evaluation and its Gram matrix (gram.c), and
     * enough blocks to share between threads (at least 8 when n allows), but
     * at least 256 rows so that the per-block costs stay small. (Blocks of
     * 32 KiB, which the Gram matrix could read from L1, made the study of
     * bench/study.R slower.) */
    int m = (1 << 14) / (npar > 0 ? npar : 1);
    /* in long long: n + 7 overflows an int near INT_MAX */
    int eighth = (int) (((long long) n + MOE_MAX_PARTS - 1) / MOE_MAX_PARTS);
    if (m > eighth) m = eighth;
    if (m < 256) m = 256;
    if (m > n) m = n;
    return m > 0 ? m : 1;
}

/* Doubles of a moe_work for blocks of mmax rows (work_carve()): every array
 * rounded up to 8 doubles, so that each starts 64 bytes after the last. */
static size_t pad8(size_t len) { return (len + 7) & ~(size_t) 7; }

static size_t work_doubles(const moe_spec *s, int mmax)
{
    size_t k = s->k, d = s->d, mk = pad8((size_t) mmax * k);
    return 3 * pad8(k) + 2 * pad8(k * d) + (s->outw ? mk : 0) + 7 * mk + pad8(mmax);
}

/* The arrays of w, laid out in mem (work_doubles(s, mmax) doubles). */
static void work_carve(const moe_spec *s, int mmax, moe_work *w, double *mem)
{
    size_t k = s->k, d = s->d, mk = pad8((size_t) mmax * k);
    w->mmax = mmax;
    w->beta0 = mem; mem += pad8(k);
    w->B1 = mem; mem += pad8(k * d);
    w->A = mem; mem += pad8(k * d);
    w->b = mem; mem += pad8(k);
    w->c = mem; mem += pad8(k);
    w->HC = NULL;
    if (s->outw) { w->HC = mem; mem += mk; }
    w->Z = mem; mem += mk;
    w->T = mem; mem += mk;
    w->G = mem; mem += mk;
    w->H = mem; mem += mk;
    w->DH = mem; mem += mk;
    w->U = mem; mem += mk;
    w->V = mem; mem += mk;
    w->f = mem;
}

static void work_alloc(const moe_spec *s, int mmax, moe_work *w)
{
    work_carve(s, mmax, w, (double *) R_alloc(work_doubles(s, mmax), sizeof(double)));
}

static void work_set(const moe_spec *s, const double *theta, moe_work *w)
{
    moe_spec_unpack(s, theta, w->beta0, w->B1, w->A, w->b, w->c);
}

/* Linear predictors X P' for a block of rows: out (m x k) = x[rows, ] %*% t(P). */
static void block_linear(const double *x, int ldx, int m, int d, const double *P,
                         int k, double *out)
{
    const double one = 1.0, zero = 0.0;
    F77_CALL(dgemm)("N", "T", &m, &k, &d, &one, x, &ldx, P, &k, &zero, out, &m
                    FCONE FCONE);
}

/* A block of m rows starting at row0 of x, as the row tasks see it. */
typedef struct {
    const moe_spec *s;
    const double *x;
    int ldx, row0, m, want_deriv, direct;
    moe_work *w;
    double *J; /* the Jacobian block (m x npar), for jac_task */
    int copies; /* jac_task: also the columns that are copies of U and V */
} block_ctx;

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
        if (s->outw) {
            /* the expert's output is c act(t): the gates and f see c h */
            const double cl = w->c[l];
            const double *restrict h = H + off;
            double *restrict hc = w->HC + off;
            MOE_SIMD
            for (int r = 0; r < mr; r++) hc[r] = cl * h[r];
            if (want_deriv) {
                double *restrict dh = DH + off;
                MOE_SIMD
                for (int r = 0; r < mr; r++) dh[r] *= cl;
            }
        }
    }
    double *const HE = s->outw ? w->HC : H;
    /* f is not computed yet: its rows serve as the gates' scratch */
    moe_gate_eval(s->gating, Z + r0, m, mr, k, G + r0, f);
    {
        const double *restrict g = G + r0, *restrict h = HE + r0;
        MOE_SIMD
        for (int r = 0; r < mr; r++) f[r] = g[r] * h[r];
    }
    for (int l = 1; l < k; l++) {
        const double *restrict g = G + r0 + (size_t) l * m, *restrict h = HE + r0 + (size_t) l * m;
        MOE_SIMD
        for (int r = 0; r < mr; r++) f[r] += g[r] * h[r];
    }
    if (want_deriv) {
        moe_gate_score(s->gating, Z + r0, G + r0, HE + r0, f, m, mr, k, U + r0);
        for (int l = 0; l < k; l++) {
            size_t off = r0 + (size_t) l * m;
            const double *restrict g = G + off, *restrict dh = DH + off;
            double *restrict v = V + off;
            MOE_SIMD
            for (int r = 0; r < mr; r++) v[r] = g[r] * dh[r];
        }
    }
}

static void block_task(void *ctx, int task)
{
    const block_ctx *c = (const block_ctx *) ctx;
    int r0 = task * MOE_ROWS_PER_TASK, left = c->m - r0;
    block_rows(c->s, c->x, c->ldx, c->row0, c->m, r0,
               left < MOE_ROWS_PER_TASK ? left : MOE_ROWS_PER_TASK, c->want_deriv, c->direct,
               c->w);
}

/* Evaluate rows [row0, row0 + m) of x: gate inputs, gates, experts and f into
 * w, and U, V when want_deriv. */
static void model_block(const moe_spec *s, const double *x, int ldx, int row0, int m,
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
    block_ctx c = {s, x, ldx, row0, m, want_deriv, direct, w, NULL};
    int ntask = n_row_tasks(m);
    run_tasks(ntask, nthreads, row_chunk(ntask, nthreads), block_task, &c);
}

/* Rows [r0, r0 + mr) of the Jacobian block J (m x npar) from U and V; the
 * columns are the positions of theta (moe.h). Without copies, the columns of
 * the gates' and experts' intercepts, which are U and V themselves, are left
 * unwritten (jac_cols() points at U and V instead). */
MOE_CLONES
static void jac_rows(const moe_spec *s, const double *x, int ldx, int row0, int m,
                     int r0, int mr, const moe_work *w, double *J, int copies)
{
    int k = s->k, d = s->d, constant = s->expert == MOE_EXPERT_CONSTANT;
    const double *xb = x + row0 + r0;
    for (int i = 0; i < k; i++) {
        const double *restrict u = w->U + r0 + (size_t) i * m, *restrict v = w->V + r0 + (size_t) i * m;
        double *restrict Jc;
        if (moe_theta_gated(s, i)) {
            size_t col = moe_theta_gate(s, i);
            Jc = J + r0 + col * m;
            if (copies) {
                MOE_SIMD
                for (int r = 0; r < mr; r++) Jc[r] = u[r];
            }
            for (int j = 0; j < d; j++) {
                const double *restrict xj = xb + (size_t) j * ldx;
                Jc = J + r0 + (col + 1 + j) * m;
                MOE_SIMD
                for (int r = 0; r < mr; r++) Jc[r] = u[r] * xj[r];
            }
        }
        if (!constant) {
            size_t col = moe_theta_expert(s, i);
            for (int j = 0; j < d; j++) {
                const double *restrict xj = xb + (size_t) j * ldx;
                Jc = J + r0 + (col + j) * m;
                MOE_SIMD
                for (int r = 0; r < mr; r++) Jc[r] = v[r] * xj[r];
            }
        }
        if (copies) {
            Jc = J + r0 + (size_t) moe_theta_b(s, i) * m;
            MOE_SIMD
            for (int r = 0; r < mr; r++) Jc[r] = v[r];
        }
        if (s->outw) {
            /* d f / d c_i = g_i act(t_i) */
            const double *restrict g = w->G + r0 + (size_t) i * m, *restrict h = w->H + r0 + (size_t) i * m;
            Jc = J + r0 + (size_t) moe_theta_c(s, i) * m;
            MOE_SIMD
            for (int r = 0; r < mr; r++) Jc[r] = g[r] * h[r];
        }
    }
}

static void jac_task(void *ctx, int task)
{
    const block_ctx *c = (const block_ctx *) ctx;
    int r0 = task * MOE_ROWS_PER_TASK, left = c->m - r0;
    jac_rows(c->s, c->x, c->ldx, c->row0, c->m, r0,
             left < MOE_ROWS_PER_TASK ? left : MOE_ROWS_PER_TASK, c->w, c->J, c->copies);
}

/* Fill the m x npar Jacobian block J (leading dimension m) from w->U, w->V;
 * without copies, all but the intercepts' columns (jac_rows()). */
static void model_jac_block(const moe_spec *s, const double *x, int ldx, int row0,
                            int m, moe_work *w, double *J, int nthreads, int copies)
{
    block_ctx c = {s, x, ldx, row0, m, 1, 0, w, J, copies};
    int ntask = n_row_tasks(m);
    run_tasks(ntask, nthreads, row_chunk(ntask, nthreads), jac_task, &c);
}

/* The columns of a Jacobian block filled without copies: the intercepts'
 * columns are U and V (the same values jac_rows() would copy), the others
 * those of J. */
static void jac_cols(const moe_spec *s, int m, const moe_work *w, const double *J,
                     const double **col)
{
    for (int j = 0; j < s->npar; j++) col[j] = J + (size_t) j * m;
    for (int i = 0; i < s->k; i++) {
        if (moe_theta_gated(s, i)) col[moe_theta_gate(s, i)] = w->U + (size_t) i * m;
        col[moe_theta_b(s, i)] = w->V + (size_t) i * m;
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
     * which stays in cache from block to block; no more threads than the
     * rows pay for (threads.c) */
    nthreads = moe_threads_rows(nthreads, n, P, MOE_WORK_PASS);
    ps->nwork = nthreads < ps->nparts ? nthreads : ps->nparts;
    if (ps->nwork < 1) ps->nwork = 1;
    ps->work = (moe_work *) R_alloc(ps->nwork, sizeof(moe_work));
    ps->J = (double **) R_alloc(ps->nwork, sizeof(double *));
    for (int t = 0; t < ps->nwork; t++) {
        work_alloc(s, ps->mmax, &ps->work[t]);
        ps->J[t] = (double *) R_alloc((size_t) ps->mmax * P, sizeof(double));
    }
    ps->cols = (const double ***) R_alloc(ps->nwork, sizeof(const double **));
    ps->gram = (double **) R_alloc(ps->nwork, sizeof(double *));
    for (int t = 0; t < ps->nwork; t++) {
        ps->cols[t] = (const double **) R_alloc(P + 1, sizeof(const double *));
        ps->gram[t] = (double *) R_alloc((size_t) (P + 1) * (P + 1), sizeof(double));
    }
    ps->fh = (double **) R_alloc(ps->nwork, sizeof(double *));
    ps->jv = (double **) R_alloc(ps->nwork, sizeof(double *));
    for (int t = 0; t < ps->nwork; t++) {
        ps->fh[t] = (double *) R_alloc(ps->mmax, sizeof(double));
        ps->jv[t] = (double *) R_alloc(ps->mmax, sizeof(double));
    }
    ps->theta_h = (double *) R_alloc(P, sizeof(double));
    ps->A = (double *) R_alloc((size_t) ps->nparts * P * P, sizeof(double));
    ps->g = (double *) R_alloc((size_t) ps->nparts * P, sizeof(double));
    ps->sse = (double *) R_alloc(ps->nparts, sizeof(double));
    ps->sw = NULL;
}

/* One pass, as its partials see it (theta_h, v and h only for the second
 * directional derivative). */
typedef struct {
    const moe_spec *s;
    const double *x, *y;
    moe_pass *ps;
    int want_normal;
    const double *theta, *theta_h, *v;
    double h;
} pass_ctx;

/* Rows of J (and f, when with_f) times sqrt(w): U, V and, with output
 * weights, H carry every column of J. */
static void weight_block(const moe_spec *s, const double *sw, int m, moe_work *w, int with_f)
{
    for (size_t l = 0; l < (size_t) s->k; l++)
        for (int r = 0; r < m; r++) {
            w->U[r + l * m] *= sw[r];
            w->V[r + l * m] *= sw[r];
            /* the output weights' column is g act(t), read from H */
            if (s->outw) w->H[r + l * m] *= sw[r];
        }
    if (with_f)
        for (int r = 0; r < m; r++) w->f[r] *= sw[r];
}

/* The blocks of partial p, in order, with the workspace of the calling
 * thread: SSE, and the upper triangle of J'J and J'r when want_normal. Runs
 * on one thread and calls BLAS single-threaded. Every value a block reads
 * from the workspace is written by that block first, so which workspace a
 * partial gets does not change its sums. */
static void pass_part(void *ctx, int p)
{
    const pass_ctx *c = (const pass_ctx *) ctx;
    const moe_spec *s = c->s;
    moe_pass *ps = c->ps;
    const double *x = c->x, *y = c->y;
    int P = s->npar, n = ps->n, t = thread_id(), want_normal = c->want_normal;
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
        model_block(s, x, n, row0, m, want_normal, w, 1);
        /* residuals overwrite f */
        if (ps->sw) {
            const double *sw = ps->sw + row0;
            for (int r = 0; r < m; r++) {
                double res = sw[r] * (y[row0 + r] - w->f[r]);
                w->f[r] = res;
                sse += res * res;
            }
            if (want_normal) weight_block(s, sw, m, w, 0);
        } else {
            for (int r = 0; r < m; r++) {
                double res = y[row0 + r] - w->f[r];
                w->f[r] = res;
                sse += res * res;
            }
        }
        if (want_normal) {
            model_jac_block(s, x, n, row0, m, w, J, 1, 0);
            /* [J r]'[J r] in one sweep (gram.c): J'J and J'r */
            const double **col = ps->cols[t];
            double *G = ps->gram[t];
            jac_cols(s, m, w, J, col);
            col[P] = w->f;
            moe_gram_upper(col, P + 1, m, G);
            for (int j = 0; j < P; j++) {
                const double *Gj = G + (size_t) j * (P + 1);
                double *Aj = A + (size_t) j * P;
                for (int i = 0; i <= j; i++) Aj[i] += Gj[i];
                g[j] += G[j + (size_t) P * (P + 1)];
            }
        }
    }
    ps->sse[p] = sse;
}

/* The blocks of partial p for moe_model_pass_dir2(): per block, f at
 * theta + h v, then f, J and J v at theta, and J'fvv summed into the
 * partial's g. */
static void dir2_part(void *ctx, int p)
{
    const pass_ctx *c = (const pass_ctx *) ctx;
    const moe_spec *s = c->s;
    moe_pass *ps = c->ps;
    const double *x = c->x;
    int P = s->npar, n = ps->n, inc = 1, t = thread_id();
    const double one = 1.0, zero = 0.0, h = c->h;
    moe_work *w = &ps->work[t];
    double *g = ps->g + (size_t) p * P, *J = ps->J[t], *fh = ps->fh[t], *jv = ps->jv[t];
    memset(g, 0, sizeof(double) * (size_t) P);
    for (int b = p; b < ps->nblocks; b += ps->nparts) {
        int row0 = b * ps->mmax;
        int m = n - row0 < ps->mmax ? n - row0 : ps->mmax;
        const double *sw = ps->sw ? ps->sw + row0 : NULL;
        work_set(s, c->theta_h, w);
        model_block(s, x, n, row0, m, 0, w, 1);
        for (int r = 0; r < m; r++) fh[r] = sw ? sw[r] * w->f[r] : w->f[r];
        work_set(s, c->theta, w);
        model_block(s, x, n, row0, m, 1, w, 1);
        if (sw) weight_block(s, sw, m, w, 1);
        model_jac_block(s, x, n, row0, m, w, J, 1, 1);
        F77_CALL(dgemv)("N", &m, &P, &one, J, &m, c->v, &inc, &zero, jv, &inc FCONE);
        /* fvv, into fh */
        for (int r = 0; r < m; r++) fh[r] = 2.0 / h * ((fh[r] - w->f[r]) / h - jv[r]);
        F77_CALL(dgemv)("T", &m, &P, &one, J, &m, fh, &inc, &one, g, &inc FCONE);
    }
}

void moe_model_pass_dir2(const moe_spec *s, const double *x, const double *theta,
                         const double *v, double h, moe_pass *ps, double *gvv, int nthreads)
{
    int P = s->npar, np = ps->nparts;
    int nt = moe_threads_rows(nthreads < ps->nwork ? nthreads : ps->nwork, ps->n, P,
                              MOE_WORK_PASS);
    double *theta_h = ps->theta_h;
    for (int j = 0; j < P; j++) theta_h[j] = theta[j] + h * v[j];
    int prev = moe_blas_threads_set(1);
    pass_ctx c = {s, x, NULL, ps, 1, theta, theta_h, v, h};
    run_tasks(np, nt, 1, dir2_part, &c);
    if (prev > 1) moe_blas_threads_set(prev);
    memcpy(gvv, ps->g, sizeof(double) * (size_t) P);
    for (int p = 1; p < np; p++)
        for (int j = 0; j < P; j++) gvv[j] += ps->g[(size_t) p * P + j];
}

double moe_model_pass(const moe_spec *s, const double *x, const double *y,
                      const double *theta, moe_pass *ps, double *A, double *g,
                      int nthreads)
{
    int P = s->npar, np = ps->nparts, want = A != NULL;
    int nt = moe_threads_rows(nthreads < ps->nwork ? nthreads : ps->nwork, ps->n, P,
                              MOE_WORK_PASS);
    for (int t = 0; t < nt; t++) work_set(s, theta, &ps->work[t]);
    /* BLAS runs single-threaded inside every pass, whatever nthreads: a
     * multi-threaded BLAS may split a block's sums differently from a
     * single-threaded one, which would make the result depend on how many
     * threads the pass uses. The blocks are small, so BLAS threads would not
     * pay anyway. Nothing below can raise an R error, so the count is always
     * restored. */
    int prev = moe_blas_threads_set(1);
    pass_ctx c = {s, x, y, ps, want, NULL, NULL, NULL, 0.0};
    run_tasks(np, nt, 1, pass_part, &c);
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

/* Evaluations outside the passes pin BLAS (dgemm of the linear predictors,
 * d > MOE_DIRECT_MAX_D) to one thread too, so that no value depends on the
 * BLAS's thread count. */
size_t moe_model_values_work(const moe_spec *s, int n)
{
    return work_doubles(s, moe_block_rows(n > 0 ? n : 1, s->npar));
}

void moe_model_values(const moe_spec *s, const double *x, int n, const double *theta,
                      double *f, double *G, double *H, int nthreads)
{
    if (n < 1) return;
    moe_model_values_in(s, x, n, theta, f, G, H, nthreads,
                        (double *) R_alloc(moe_model_values_work(s, n), sizeof(double)));
}

void moe_model_values_in(const moe_spec *s, const double *x, int n, const double *theta,
                         double *f, double *G, double *H, int nthreads, double *mem)
{
    if (n < 1) return;
    nthreads = moe_threads_rows(nthreads, n, s->npar, MOE_WORK_EVAL);
    int prev = moe_blas_threads_set(1);
    moe_work w;
    work_carve(s, moe_block_rows(n, s->npar), &w, mem);
    work_set(s, theta, &w);
    for (int row0 = 0; row0 < n; row0 += w.mmax) {
        int m = n - row0 < w.mmax ? n - row0 : w.mmax;
        model_block(s, x, n, row0, m, 0, &w, nthreads);
        memcpy(f + row0, w.f, sizeof(double) * m);
        if (G && H)
            for (int l = 0; l < s->k; l++) {
                memcpy(G + row0 + (size_t) l * n, w.G + (size_t) l * m, sizeof(double) * m);
                memcpy(H + row0 + (size_t) l * n, (s->outw ? w.HC : w.H) + (size_t) l * m,
                       sizeof(double) * m);
            }
    }
    if (prev > 1) moe_blas_threads_set(prev);
}

void moe_model_jacobian(const moe_spec *s, const double *x, int n, const double *theta,
                        double *out, int nthreads)
{
    if (n < 1) return;
    nthreads = moe_threads_rows(nthreads, n, s->npar, MOE_WORK_EVAL);
    int P = s->npar, prev = moe_blas_threads_set(1);
    moe_work w;
    work_alloc(s, moe_block_rows(n, P), &w);
    double *J = (double *) R_alloc((size_t) w.mmax * P, sizeof(double));
    work_set(s, theta, &w);
    for (int row0 = 0; row0 < n; row0 += w.mmax) {
        int m = n - row0 < w.mmax ? n - row0 : w.mmax;
        model_block(s, x, n, row0, m, 1, &w, nthreads);
        model_jac_block(s, x, n, row0, m, &w, J, nthreads, 1);
        for (int c = 0; c < P; c++)
            memcpy(out + row0 + (size_t) c * n, J + (size_t) c * m, sizeof(double) * m);
    }
    if (prev > 1) moe_blas_threads_set(prev);
}

/* ---- .Call adapters ---- */

/* f at the rows of x; with components = TRUE a list(f, gates, experts). */
SEXP C_model_eval(SEXP spec, SEXP theta, SEXP x, SEXP components, SEXP nthreads)
{
    moe_spec s = moe_spec_from_sexp(spec, theta, x);
    int n = Rf_nrows(x), k = s.k, comp = Rf_asLogical(components) == 1, nt = moe_nthreads(nthreads);
    SEXP f = PROTECT(Rf_allocVector(REALSXP, n));
    SEXP G = PROTECT(comp ? Rf_allocMatrix(REALSXP, n, k) : R_NilValue);
    SEXP H = PROTECT(comp ? Rf_allocMatrix(REALSXP, n, k) : R_NilValue);
    moe_model_values(&s, REAL(x), n, REAL(theta), REAL(f), comp ? REAL(G) : NULL,
                     comp ? REAL(H) : NULL, nt);
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
    int n = Rf_nrows(x);
    SEXP out = PROTECT(Rf_allocMatrix(REALSXP, n, s.npar));
    moe_model_jacobian(&s, REAL(x), n, REAL(theta), REAL(out), moe_nthreads(nthreads));
    UNPROTECT(1);
    return out;
}

/* SSE, J'J (full, symmetric) and J'r at theta, accumulated block by block. */
SEXP C_model_crossprod(SEXP spec, SEXP theta, SEXP x, SEXP y, SEXP nthreads)
{
    moe_spec s = moe_spec_from_sexp(spec, theta, x);
    int n = Rf_nrows(x), P = s.npar, nt = moe_nthreads(nthreads);
    moe_check_response(y, n);
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
    moe_check_response(y, n);
    double sse = 0.0;
    if (n > 0) {
        moe_pass ps;
        moe_pass_alloc(&s, n, nt, &ps);
        sse = moe_model_pass(&s, REAL(x), REAL(y), REAL(theta), &ps, NULL, NULL, nt);
    }
    return Rf_ScalarReal(sse);
}

/* J'fvv at theta along v (the geodesic acceleration's right-hand side), with
 * optional square roots of weights: for tests against an independent
 * computation. */
SEXP C_model_dir2(SEXP spec, SEXP theta, SEXP x, SEXP v, SEXP h, SEXP sqrt_weights,
                  SEXP nthreads)
{
    moe_spec s = moe_spec_from_sexp(spec, theta, x);
    int n = Rf_nrows(x), P = s.npar, nt = moe_nthreads(nthreads);
    moe_check_real(v, P, "v");
    double hh = Rf_asReal(h);
    if (!(R_FINITE(hh) && hh > 0)) Rf_error("internal: h must be a finite number > 0");
    if (n < 1) Rf_error("internal: no rows");
    SEXP out = PROTECT(Rf_allocVector(REALSXP, P));
    moe_pass ps;
    moe_pass_alloc(&s, n, nt, &ps);
    if (!Rf_isNull(sqrt_weights)) {
        moe_check_real(sqrt_weights, n, "sqrt_weights");
        ps.sw = REAL(sqrt_weights);
    }
    moe_model_pass_dir2(&s, REAL(x), REAL(theta), REAL(v), hh, &ps, REAL(out), nt);
    UNPROTECT(1);
    return out;
}

/* Rows per block of a pass over n rows with npar parameters, so that tests
 * can place data at the blocks' boundaries. */
SEXP C_model_block_rows(SEXP n, SEXP npar)
{
    int nn = Rf_asInteger(n), P = Rf_asInteger(npar);
    if (nn == NA_INTEGER || nn < 1 || P == NA_INTEGER || P < 1) Rf_error("internal: bad n or npar");
    return Rf_ScalarInteger(moe_block_rows(nn, P));
}
