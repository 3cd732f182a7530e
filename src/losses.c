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

/* Expert outputs h(a_i' x + b_i) of k experts at n rows of x (n x d), into
 * H (n x k); T is scratch of the same size. */
static void expert_outputs(int expert, int degree, const double *x, int n, int d,
                           int k, const double *A, const double *b, double *T,
                           double *H)
{
    for (int i = 0; i < k; i++) {
        double *t = T + (size_t) i * n;
        for (int r = 0; r < n; r++) t[r] = b[i];
        for (int c = 0; c < d; c++) {
            double a = A[i + (size_t) c * k];
            const double *xc = x + (size_t) c * n;
            for (int r = 0; r < n; r++) t[r] += a * xc[r];
        }
    }
    moe_expert_eval(expert, degree, T, (R_xlen_t) n * k, H, NULL);
}

/* L2(mu) distances between expert functions, estimated on the n rows of x:
 * D[i + k j] = sqrt(mean_r (h(x_r, eta_i) - h(x_r, eta*_j))^2), i over the k
 * fitted experts (A k x d, b), j over the kt true ones (At, bt). work holds
 * 2 n (k + kt) doubles. */
static void expert_distances(int expert, int degree, const double *x, int n, int d,
                       int k, const double *A, const double *b,
                       int kt, const double *At, const double *bt,
                       double *D, double *work)
{
    double *H = work, *Ht = H + (size_t) n * k;
    double *T = Ht + (size_t) n * kt;
    expert_outputs(expert, degree, x, n, d, k, A, b, T, H);
    expert_outputs(expert, degree, x, n, d, kt, At, bt, T, Ht);
    for (int j = 0; j < kt; j++) {
        const double *hj = Ht + (size_t) j * n;
        for (int i = 0; i < k; i++) {
            const double *hi = H + (size_t) i * n;
            double s = 0.0;
            for (int r = 0; r < n; r++) {
                double dv = hi[r] - hj[r];
                s += dv * dv;
            }
            D[i + (size_t) j * k] = n > 0 ? sqrt(s / n) : 0.0;
        }
    }
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
    size_t nw = 2 * (size_t) (n > 0 ? n : 1) * (size_t) (k + kt);
    double *work = (double *) R_alloc(nw, sizeof(double));
    expert_distances(ex, p, REAL(x), n, d, k, REAL(A), REAL(b), kt, REAL(At), REAL(bt),
                      REAL(D), work);
    UNPROTECT(1);
    return D;
}
