/* Column spreads for the fit's coordinates (R/scaling.R): for each column j
 * of x, the root mean square of v = x[, j] - mu[j] as the R expression
 * m * sqrt(mean((v / m)^2)) computes it, m the largest |v| (no overflow or
 * underflow of the squares; R's two-pass long-double mean), to the last bit,
 * but without the n-long temporaries that expression leaves for the garbage
 * collector (several copies of x at large n). */
#include "adapt.h"
#include <math.h>

SEXP C_col_spread(SEXP x, SEXP mu)
{
    /* a vector is one column */
    if (!Rf_isReal(x)) Rf_error("internal: x must be a double matrix or vector");
    int n = Rf_isMatrix(x) ? Rf_nrows(x) : (int) XLENGTH(x), d = Rf_isMatrix(x) ? Rf_ncols(x) : 1;
    moe_check_real(mu, d, "mu");
    SEXP out = PROTECT(Rf_allocVector(REALSXP, d));
    const double *X = REAL(x), *M = REAL(mu);
    double *o = REAL(out);
    for (int j = 0; j < d; j++) {
        const double *xj = X + (size_t) j * n;
        double mj = M[j], m = R_NegInf;
        int nan = 0;
        for (int i = 0; i < n; i++) {
            double a = fabs(xj[i] - mj);
            if (ISNAN(a)) nan = 1;
            else if (a > m) m = a;
        }
        if (nan) { o[j] = NA_REAL; continue; }
        if (!(m > 0) || !R_FINITE(m)) { o[j] = m; continue; }
        /* mean() of R: a long-double sum, then one correcting pass */
        long double s = 0.0;
        for (int i = 0; i < n; i++) {
            double w = (xj[i] - mj) / m;
            s += w * w;
        }
        s /= n;
        if (R_FINITE((double) s)) {
            long double t = 0.0;
            for (int i = 0; i < n; i++) {
                double w = (xj[i] - mj) / m;
                t += (w * w) - s;
            }
            s += t / n;
        }
        o[j] = m * sqrt((double) s);
    }
    UNPROTECT(1);
    return out;
}
