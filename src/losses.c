/* Losses between a fitted and a true mixing measure (vignette("theory")): the
 * Voronoi loss and the expert-level L2(mu) distances.
 *
 * Atoms are given by their weights, gating intercepts and locations. A
 * location is a row of a column-major k x q matrix whose first d columns are
 * the gating slope beta1 and whose last q - d columns are the expert
 * parameters eta (a and b, or b alone for the constant expert). The weights
 * come from R, so the same kernel serves every gate. */
#include "adapt.h"
#include <math.h>
#include <string.h>
#include <stdlib.h>
#include <Rmath.h>
#include <float.h>

/* Voronoi cell of every fitted atom: the nearest true atom in Euclidean
 * distance over the location, ties to the lowest j. cell[] is 0-based. */
static void voronoi_cells(int k, int kt, int q, const double *loc, const double *loct,
                      int *cell)
{
    for (int i = 0; i < k; i++) {
        double best = R_PosInf;
        int arg = 0;
        for (int j = 0; j < kt; j++) {
            double s = 0.0;
            for (int c = 0; c < q; c++) {
                double dv = loc[i + (size_t) c * k] - loct[j + (size_t) c * kt];
                s += dv * dv;
            }
            /* strict < keeps the lowest j on ties */
            if (s < best) {
                best = s;
                arg = j;
            }
        }
        cell[i] = arg;
    }
}

/* Euclidean norm of the difference of two rows over columns [c0, c1). */
static double row_dist(const double *loc, int k, int i, const double *loct, int kt,
                       int j, int c0, int c1)
{
    double s = 0.0;
    for (int c = c0; c < c1; c++) {
        double dv = loc[i + (size_t) c * k] - loct[j + (size_t) c * kt];
        s += dv * dv;
    }
    return sqrt(s);
}

/* The Voronoi loss
 *   sum_j | sum_{i in A_j} w_i - w*_j |
 *   + sum_{|A_j| = 1} w_i (c_ij + ||dbeta1|| + ||deta||)^r_exact
 *   + sum_{|A_j| > 1} sum_{i in A_j} w_i (||dbeta1||^r_over + ||deta||^r_over)
 * with c_ij = |beta0_i - beta0*_j| when use_c, else 0.
 * Outputs (all of length kt except cell, of length k): cell (0-based), count
 * |A_j|, mass = | sum w_i - w*_j |, term = the cell's location term.
 * Returns the total. Empty cells pay their mass term only. */
static double voronoi_terms(int k, int kt, int d, int q,
                          const double *w, const double *beta0, const double *loc,
                          const double *wt, const double *beta0t, const double *loct,
                          int use_c, double r_exact, double r_over,
                          int *cell, int *count, double *mass, double *term)
{
    voronoi_cells(k, kt, q, loc, loct, cell);
    for (int j = 0; j < kt; j++) {
        count[j] = 0;
        mass[j] = 0.0;
        term[j] = 0.0;
    }
    for (int i = 0; i < k; i++) {
        count[cell[i]]++;
        mass[cell[i]] += w[i];
    }
    for (int i = 0; i < k; i++) {
        int j = cell[i];
        double db1 = row_dist(loc, k, i, loct, kt, j, 0, d);
        double deta = row_dist(loc, k, i, loct, kt, j, d, q);
        /* a zero distance adds nothing, whatever the weight: a weight that
         * overflowed to Inf must not turn it into NaN */
        double dist;
        if (count[j] == 1) {
            double c = use_c ? fabs(beta0[i] - beta0t[j]) : 0.0;
            dist = pow(c + db1 + deta, r_exact);
        } else {
            dist = pow(db1, r_over) + pow(deta, r_over);
        }
        if (dist > 0.0) term[j] += w[i] * dist;
    }
    double total = 0.0;
    for (int j = 0; j < kt; j++) {
        mass[j] = fabs(mass[j] - wt[j]);
        total += mass[j] + term[j];
    }
    return total;
}

/* The workspace of a study's losses: one allocation per process, grown
 * when a call needs more and kept for the next (a study calls the losses
 * once per task, thousands of times, with the same sizes), released when
 * the package is unloaded. A workspace larger than MOE_LOSS_KEEP doubles
 * (an evaluation sample of some 200,000 points or more, whose allocation
 * costs little next to the call) is released at the end of its
 * call, so that a worker does not hold it between tasks. Only R's main
 * thread calls the losses. */
#define MOE_LOSS_KEEP ((size_t) 1 << 20)
static double *loss_ws = NULL;
static size_t loss_ws_len = 0;

static double *loss_workspace(size_t len)
{
    if (len > loss_ws_len) {
        free(loss_ws);
        loss_ws_len = 0;
        loss_ws = (double *) malloc(len * sizeof(double));
        if (!loss_ws) Rf_error("cannot allocate the losses' workspace (%.0f MB)", len * 8.0 / 1048576.0);
        loss_ws_len = len;
    }
    return loss_ws;
}

void moe_losses_release(void)
{
    free(loss_ws);
    loss_ws = NULL;
    loss_ws_len = 0;
}

/* Rows per block of the expert distances: the outputs of a block of rows for
 * every expert stay in cache, and the workspace does not grow with n. */
#define MOE_LOSS_BLOCK 256

static int loss_block_rows(int n, int nexp)
{
    int m = 65536 / (nexp > 0 ? nexp : 1);
    if (m > MOE_LOSS_BLOCK) m = MOE_LOSS_BLOCK;
    if (m < 1) m = 1;
    return n < m ? (n > 0 ? n : 1) : m;
}

/* Expert outputs h(a_i' x + b_i) of k experts at rows [row0, row0 + m) of x
 * (n x d), into H (m x k); T is scratch of the same size. Elementwise, so
 * the values do not depend on the rows taken together. */
MOE_CLONES
static void expert_outputs(int expert, int degree, const double *x, int n, int d,
                           int row0, int m, int k, const double *A, const double *b,
                           double *T, double *H)
{
    for (int i = 0; i < k; i++) {
        double *restrict t = T + (size_t) i * m;
        const double bi = b[i];
        MOE_SIMD
        for (int r = 0; r < m; r++) t[r] = bi;
        for (int c = 0; c < d; c++) {
            const double a = A[i + (size_t) c * k];
            const double *restrict xc = x + (size_t) c * n + row0;
            MOE_SIMD
            for (int r = 0; r < m; r++) t[r] += a * xc[r];
        }
    }
    moe_expert_eval(expert, degree, T, (R_xlen_t) m * k, H, NULL);
}

/* Doubles of workspace that expert_distances() needs. */
static size_t expert_distances_work(int n, int k, int kt)
{
    size_t m = (size_t) loss_block_rows(n, k + kt);
    return 2 * m * (size_t) (k + kt) + (size_t) k * kt;
}

/* Pairs of experts summed together in expert_distances(): their sums stay
 * in registers, as independent chains of additions. */
#define MOE_PAIR_GROUP 4

/* S[p] += sum over the m rows, in their order, of (Hi[r] - Htj[r])^2 for
 * the pairs p = i + k j of one group (np of them; the others repeat the
 * first and are dropped). */
static void pair_sums(int np, const double *const *h, const double *const *t, int m, double *S)
{
    const double *restrict h0 = h[0], *restrict h1 = h[1], *restrict h2 = h[2], *restrict h3 = h[3];
    const double *restrict t0 = t[0], *restrict t1 = t[1], *restrict t2 = t[2], *restrict t3 = t[3];
    double a0 = S[0], a1 = np > 1 ? S[1] : 0.0, a2 = np > 2 ? S[2] : 0.0, a3 = np > 3 ? S[3] : 0.0;
    for (int r = 0; r < m; r++) {
        double d0 = h0[r] - t0[r], d1 = h1[r] - t1[r], d2 = h2[r] - t2[r], d3 = h3[r] - t3[r];
        a0 += d0 * d0;
        a1 += d1 * d1;
        a2 += d2 * d2;
        a3 += d3 * d3;
    }
    S[0] = a0;
    if (np > 1) S[1] = a1;
    if (np > 2) S[2] = a2;
    if (np > 3) S[3] = a3;
}

/* L2(mu) distances between expert functions, estimated on the n rows of x:
 * D[i + k j] = sqrt(mean_r (h(x_r, eta_i) - h(x_r, eta*_j))^2), i over the k
 * fitted experts (A k x d, b), j over the kt true ones (At, bt). The rows are
 * taken in blocks, and every sum runs over the rows in their order, so the
 * result does not depend on the block size. Htall, when not NULL, holds the
 * true experts' outputs at all n rows (n x kt, expert_outputs() of At, bt),
 * which are then not recomputed. work holds expert_distances_work(n, k, kt)
 * doubles. */
static void expert_distances(int expert, int degree, const double *x, int n, int d,
                             int k, const double *A, const double *b,
                             int kt, const double *At, const double *bt,
                             const double *Htall, double *D, double *work)
{
    int mmax = loss_block_rows(n, k + kt), npair = k * kt;
    double *H = work, *Ht = H + (size_t) mmax * k;
    double *T = Ht + (size_t) mmax * kt, *S = T + (size_t) mmax * (k + kt);
    for (int l = 0; l < npair; l++) S[l] = 0.0;
    for (int row0 = 0; row0 < n; row0 += mmax) {
        int m = n - row0 < mmax ? n - row0 : mmax;
        expert_outputs(expert, degree, x, n, d, row0, m, k, A, b, T, H);
        const double *hts = Ht;
        size_t ldt = (size_t) m;
        if (Htall) {
            hts = Htall + row0;
            ldt = (size_t) n;
        } else {
            expert_outputs(expert, degree, x, n, d, row0, m, kt, At, bt, T, Ht);
        }
        for (int p0 = 0; p0 < npair; p0 += MOE_PAIR_GROUP) {
            int np = npair - p0 < MOE_PAIR_GROUP ? npair - p0 : MOE_PAIR_GROUP;
            const double *h[MOE_PAIR_GROUP], *t[MOE_PAIR_GROUP];
            for (int q = 0; q < MOE_PAIR_GROUP; q++) {
                int p = p0 + (q < np ? q : 0);
                h[q] = H + (size_t) (p % k) * m;
                t[q] = hts + (size_t) (p / k) * ldt;
            }
            pair_sums(np, h, t, m, S + p0);
        }
    }
    for (int l = 0; l < npair; l++) D[l] = n > 0 ? sqrt(S[l] / n) : 0.0;
}

/* The true experts' outputs at the n rows of x into Ht (n x kt), unless
 * they are there already: key[0..2] = (kt, expert, degree) and
 * par = (At, bt) record what Ht was computed from (key[0] = 0: nothing yet).
 * par holds kt (d + 1) doubles, T is scratch of n kt. In a study every gate
 * has the same truth, so the outputs are computed once per call. */
static void true_outputs(int expert, int degree, const double *x, int n, int d, int kt,
                         const double *At, const double *bt, double *Ht, int *key, double *par,
                         double *T)
{
    size_t na = (size_t) kt * d;
    if (key[0] == kt && key[1] == expert && key[2] == degree &&
        !memcmp(par, At, sizeof(double) * na) && !memcmp(par + na, bt, sizeof(double) * kt))
        return;
    expert_outputs(expert, degree, x, n, d, 0, n, kt, At, bt, T, Ht);
    memcpy(par, At, sizeof(double) * na);
    memcpy(par + na, bt, sizeof(double) * kt);
    key[0] = kt;
    key[1] = expert;
    key[2] = degree;
}

/* min() of R over v[0..len): NaN wins over numbers (and NA over NaN). */
static double r_min(const double *v, int len, int stride)
{
    double s = R_PosInf;
    for (int l = 0; l < len; l++) {
        double x = v[(size_t) l * stride];
        if (ISNAN(x)) {
            if (!R_IsNA(s)) s = x;
        } else if (x < s) {
            s = x;
        }
    }
    return s;
}

/* The error of every true expert j (err, length kt): the smallest distance
 * D[i, j] over the fitted atoms i of its cell, over all atoms when the cell
 * is empty. cell[] is 0-based. */
static void expert_cell_errors(int k, int kt, const double *D, const int *cell, double *err)
{
    for (int j = 0; j < kt; j++) {
        double s = R_PosInf;
        int any = 0;
        for (int i = 0; i < k; i++) {
            if (cell[i] != j) continue;
            any = 1;
            double x = D[i + (size_t) j * k];
            if (ISNAN(x)) {
                if (!R_IsNA(s)) s = x;
            } else if (x < s) {
                s = x;
            }
        }
        err[j] = any ? s : r_min(D + (size_t) j * k, k, 1);
    }
}

/* mean(v) as R computes it for a double vector (long double sums and a
 * second, correcting pass), with v[r] = (f[r] - g[r])^2 formed on the fly. */
static double r_mean_sqdiff(const double *f, const double *g, int n)
{
    long double s = 0.0;
    for (int r = 0; r < n; r++) {
        double dv = f[r] - g[r], v = dv * dv;
        s += v;
    }
    if (R_FINITE((double) s)) {
        s /= n;
    } else {
        /* the sum overflowed: R sums the terms divided by n */
        long double t = 0.0;
        for (int r = 0; r < n; r++) {
            double dv = f[r] - g[r], v = dv * dv;
            t += v / n;
        }
        s = t;
    }
    if (R_FINITE((double) s)) {
        long double t = 0.0;
        for (int r = 0; r < n; r++) {
            double dv = f[r] - g[r], v = dv * dv;
            t += (v - s);
        }
        s += t / n;
    }
    return (double) s;
}

/* The locations of atom_locations() in R: (beta1, a, b), or (beta1, b) for
 * the constant expert; without beta1 when gate is 0. Returns the columns q. */
static int atom_locations(int k, int d, int constant, int gate, const double *beta1,
                          const double *A, const double *b, double *loc)
{
    int q = 0;
    if (gate)
        for (int j = 0; j < d; j++, q++)
            memcpy(loc + (size_t) q * k, beta1 + (size_t) j * k, sizeof(double) * k);
    if (!constant)
        for (int j = 0; j < d; j++, q++)
            memcpy(loc + (size_t) q * k, A + (size_t) j * k, sizeof(double) * k);
    memcpy(loc + (size_t) q * k, b, sizeof(double) * k);
    return q + 1;
}

/* .Call adapter: w, beta0 (length k), loc (k x q), the same for the truth,
 * d (columns of beta1 in loc), use_c (logical) and r = c(r_exact, r_over).
 * Returns list(loss, cell (1-based), count, mass, term). */
SEXP C_losses_voronoi(SEXP w, SEXP beta0, SEXP loc, SEXP wt, SEXP beta0t, SEXP loct,
                      SEXP d, SEXP use_c, SEXP r)
{
    int k = Rf_length(w), kt = Rf_length(wt), dd = Rf_asInteger(d);
    if (!Rf_isReal(w) || !Rf_isReal(beta0) || Rf_length(beta0) != k ||
        !Rf_isReal(wt) || !Rf_isReal(beta0t) || Rf_length(beta0t) != kt || k < 1 || kt < 1)
        Rf_error("internal: bad weights or intercepts");
    if (!Rf_isReal(r) || Rf_length(r) != 2) Rf_error("internal: r must be c(r_exact, r_over)");
    int q = (int) (XLENGTH(loc) / k);
    moe_check_real(loc, (R_xlen_t) k * q, "loc");
    moe_check_real(loct, (R_xlen_t) kt * q, "loct");
    if (dd == NA_INTEGER || dd < 0 || dd > q) Rf_error("internal: bad d");

    const char *names[] = {"loss", "cell", "count", "mass", "term", ""};
    SEXP out = PROTECT(Rf_mkNamed(VECSXP, names));
    SEXP cell = Rf_allocVector(INTSXP, k);
    SET_VECTOR_ELT(out, 1, cell);
    SEXP count = Rf_allocVector(INTSXP, kt);
    SET_VECTOR_ELT(out, 2, count);
    SEXP mass = Rf_allocVector(REALSXP, kt);
    SET_VECTOR_ELT(out, 3, mass);
    SEXP term = Rf_allocVector(REALSXP, kt);
    SET_VECTOR_ELT(out, 4, term);
    double total = voronoi_terms(k, kt, dd, q, REAL(w), REAL(beta0), REAL(loc),
                                      REAL(wt), REAL(beta0t), REAL(loct),
                                      Rf_asLogical(use_c) == 1, REAL(r)[0], REAL(r)[1],
                                      INTEGER(cell), INTEGER(count), REAL(mass), REAL(term));
    SET_VECTOR_ELT(out, 0, Rf_ScalarReal(total));
    for (int i = 0; i < k; i++) INTEGER(cell)[i]++;
    UNPROTECT(1);
    return out;
}

/* .Call adapter: expert and degree codes, x (n x d), fitted A (k x d) and b,
 * true At (kt x d) and bt. Returns the k x kt matrix of L2(mu) distances. */
SEXP C_losses_expert(SEXP expert, SEXP degree, SEXP x, SEXP A, SEXP b, SEXP At, SEXP bt)
{
    int ex = Rf_asInteger(expert), p = Rf_asInteger(degree);
    moe_check_expert(ex, p);
    SEXP dim = Rf_getAttrib(x, R_DimSymbol);
    if (!Rf_isReal(x) || Rf_length(dim) != 2) Rf_error("internal: x must be a double matrix");
    int n = INTEGER(dim)[0], d = INTEGER(dim)[1];
    int k = Rf_length(b), kt = Rf_length(bt);
    if (!Rf_isReal(b) || !Rf_isReal(bt) || k < 1 || kt < 1) Rf_error("internal: bad b");
    moe_check_real(A, (R_xlen_t) k * d, "A");
    moe_check_real(At, (R_xlen_t) kt * d, "At");
    SEXP D = PROTECT(Rf_allocMatrix(REALSXP, k, kt));
    double *work = (double *) R_alloc(expert_distances_work(n, k, kt), sizeof(double));
    expert_distances(ex, p, REAL(x), n, d, k, REAL(A), REAL(b), kt, REAL(At), REAL(bt), NULL,
                     REAL(D), work);
    UNPROTECT(1);
    return D;
}

/* log(sum(exp(v))) as log_sum_exp() computes it in R (max, then R's long
 * double sum). */
static double r_log_sum_exp(const double *v, int len)
{
    double m = R_NegInf;
    for (int i = 0; i < len; i++)
        if (v[i] > m) m = v[i];
    long double s = 0.0;
    for (int i = 0; i < len; i++) s += exp(v[i] - m);
    double sd = s > DBL_MAX ? R_PosInf : (double) s;
    return m + log(sd);
}

/* The element `i` of a target list, checked to be a double vector of length
 * len (any dimensions). */
static const double *target_real(SEXP list, int i, R_xlen_t len, const char *what)
{
    SEXP v = VECTOR_ELT(list, i);
    moe_check_real(v, len, what);
    return REAL(v);
}

/* .Call adapter of a study's built-in losses, for every gate of a task in one
 * call (one workspace for all of them). fits: per gate, NULL (a failed fit) or
 * list(spec, theta) of the fitted measure; targets: per gate, the truth as
 * study_loss_targets() (R/losses.R) lays it out, list(voronoi, expert) with
 *   voronoi = NULL (no truth in the gate's parameterisation) or
 *             list(w, beta0, loc, lse): the true atoms' weights, intercepts,
 *             locations (kt x q) and log(sum(exp(beta0))),
 *   expert  = list(A, b, loc, same_gate): the true experts (kt x d, kt), the
 *             locations the cells are formed on and whether the gates match;
 * x: the evaluation grid (n x d); f_true: the true regression function on
 * it; which = c(voronoi, expert_error, l2). Returns per gate NULL (a failed
 * fit) or c(voronoi, l2, expert errors), NA for a loss not asked for or
 * without a truth. The numbers are those of voronoi_compute(),
 * expert_error_compute() and regression_error() in R, bit for bit. */
SEXP C_losses_study(SEXP fits, SEXP targets, SEXP x, SEXP f_true, SEXP which)
{
    if (TYPEOF(fits) != VECSXP || TYPEOF(targets) != VECSXP || XLENGTH(fits) != XLENGTH(targets))
        Rf_error("internal: fits and targets must be lists of the same length");
    if (!Rf_isLogical(which) || XLENGTH(which) != 3) Rf_error("internal: which must be 3 logicals");
    SEXP dim = Rf_getAttrib(x, R_DimSymbol);
    if (!Rf_isReal(x) || Rf_length(dim) != 2) Rf_error("internal: x must be a double matrix");
    int n = INTEGER(dim)[0], dx = INTEGER(dim)[1];
    moe_check_real(f_true, n, "f_true");
    int want_v = LOGICAL(which)[0] == 1, want_e = LOGICAL(which)[1] == 1,
        want_l = LOGICAL(which)[2] == 1;
    int ng = (int) XLENGTH(fits);

    /* check every gate and size one workspace for the largest */
    size_t nwork = 1, niwork = 1;
    int ktmax = 0;
    for (int g = 0; g < ng; g++) {
        SEXP fit = VECTOR_ELT(fits, g), tg = VECTOR_ELT(targets, g);
        if (Rf_isNull(fit)) continue;
        if (TYPEOF(fit) != VECSXP || XLENGTH(fit) != 2) Rf_error("internal: a fit must be list(spec, theta)");
        moe_spec s = moe_spec_from_sexp(VECTOR_ELT(fit, 0), VECTOR_ELT(fit, 1), x);
        if (s.outw) Rf_error("internal: the losses are for experts without output weights");
        if (TYPEOF(tg) != VECSXP || XLENGTH(tg) != 2) Rf_error("internal: a target must be list(voronoi, expert)");
        SEXP ee = VECTOR_ELT(tg, 1);
        if (TYPEOF(ee) != VECSXP || XLENGTH(ee) != 4) Rf_error("internal: bad expert target");
        int kt = Rf_length(VECTOR_ELT(ee, 1));
        if (kt < 1) Rf_error("internal: bad expert target");
        SEXP vt = VECTOR_ELT(tg, 0);
        int ktv = 0;
        if (!Rf_isNull(vt)) {
            if (TYPEOF(vt) != VECSXP || XLENGTH(vt) != 4) Rf_error("internal: bad voronoi target");
            ktv = Rf_length(VECTOR_ELT(vt, 0));
            if (ktv < 1) Rf_error("internal: bad voronoi target");
        }
        int kk = s.k > kt ? s.k : kt;
        kk = kk > ktv ? kk : ktv;
        size_t need = (size_t) s.k * (2 * (size_t) dx + 3) + 2 * (size_t) s.k * (2 * (size_t) dx + 1) +
            4 * (size_t) kk + (size_t) s.k * kt + expert_distances_work(n, s.k, kt) +
            (size_t) (n > 0 ? n : 1) + moe_model_values_work(&s, n);
        if (need > nwork) nwork = need;
        if ((size_t) s.k + kk > niwork) niwork = (size_t) s.k + kk;
        if (kt > ktmax) ktmax = kt;
    }
    /* the workspace: the true experts' outputs on x (n x kt), the (At, bt)
     * they come from and scratch for computing them (true_outputs()), then
     * each gate's arrays */
    size_t nht = want_e ? (size_t) ktmax * (2 * (size_t) n + dx + 1) : 0;
    double *ht = loss_workspace(nht + nwork), *ht_par = ht + (size_t) n * ktmax,
        *ht_scratch = ht_par + (size_t) ktmax * (dx + 1), *work = ht + nht;
    int *iwork = (int *) R_alloc(niwork, sizeof(int));
    int ht_key[3] = {0, -1, -1};

    SEXP out = PROTECT(Rf_allocVector(VECSXP, ng));
    for (int g = 0; g < ng; g++) {
        SEXP fit = VECTOR_ELT(fits, g), tg = VECTOR_ELT(targets, g);
        if (Rf_isNull(fit)) continue;
        SEXP theta = VECTOR_ELT(fit, 1);
        moe_spec s = moe_spec_from_sexp(VECTOR_ELT(fit, 0), theta, x);
        int k = s.k, d = s.d, constant = s.expert == MOE_EXPERT_CONSTANT;
        SEXP ee = VECTOR_ELT(tg, 1), vt = VECTOR_ELT(tg, 0);
        int kt = Rf_length(VECTOR_ELT(ee, 1));
        SEXP res = Rf_allocVector(REALSXP, 2 + kt);
        SET_VECTOR_ELT(out, g, res);
        double *r = REAL(res);
        for (int l = 0; l < 2 + kt; l++) r[l] = NA_REAL;

        double *beta0 = work, *beta1 = beta0 + k, *A = beta1 + (size_t) k * d, *b = A + (size_t) k * d;
        double *w = b + k, *loc = w + k, *locc = loc + (size_t) k * (2 * d + 1);
        double *rest = locc + (size_t) k * (2 * d + 1);
        int *cell = iwork, *count = iwork + k;
        moe_spec_unpack(&s, REAL(theta), beta0, beta1, A, b, NULL);
        int q = atom_locations(k, d, constant, 1, beta1, A, b, loc);

        if (want_v && !Rf_isNull(vt)) {
            int ktv = Rf_length(VECTOR_ELT(vt, 0));
            const double *wt = target_real(vt, 0, ktv, "voronoi w");
            const double *beta0t = target_real(vt, 1, ktv, "voronoi beta0");
            const double *loct = target_real(vt, 2, (R_xlen_t) ktv * q, "voronoi loc");
            const double *lse = target_real(vt, 3, 1, "voronoi lse");
            if (s.gating == MOE_GATE_SOFTMAX) {
                /* align = "mass": the shift of voronoi_compute() */
                double shift = lse[0] - r_log_sum_exp(beta0, k);
                for (int i = 0; i < k; i++) w[i] = exp(beta0[i] + shift);
            } else {
                for (int i = 0; i < k; i++) w[i] = Rf_plogis(beta0[i], 0.0, 1.0, 1, 0);
            }
            double *mass = rest, *term = mass + ktv;
            r[0] = voronoi_terms(k, ktv, d, q, w, beta0, loc, wt, beta0t, loct,
                                 s.gating != MOE_GATE_SOFTMAX, 1.0, 2.0, cell, count, mass, term);
        }
        if (want_e) {
            const double *At = target_real(ee, 0, (R_xlen_t) kt * d, "expert A");
            const double *bt = target_real(ee, 1, kt, "expert b");
            int same = Rf_asLogical(VECTOR_ELT(ee, 3)) == 1;
            int qc = atom_locations(k, d, constant, same, beta1, A, b, locc);
            const double *loct = target_real(ee, 2, (R_xlen_t) kt * qc, "expert loc");
            double *D = rest, *ework = D + (size_t) k * kt;
            voronoi_cells(k, kt, qc, locc, loct, cell);
            true_outputs(s.expert, s.degree, REAL(x), n, d, kt, At, bt, ht, ht_key, ht_par, ht_scratch);
            expert_distances(s.expert, s.degree, REAL(x), n, d, k, A, b, kt, At, bt, ht, D, ework);
            expert_cell_errors(k, kt, D, cell, r + 2);
        }
        if (want_l && n > 0) {
            double *f = rest;
            moe_model_values_in(&s, REAL(x), n, REAL(theta), f, NULL, NULL, 1, f + n);
            r[1] = sqrt(r_mean_sqdiff(f, REAL(f_true), n));
        }
    }
    if (loss_ws_len > MOE_LOSS_KEEP) moe_losses_release();
    UNPROTECT(1);
    return out;
}
