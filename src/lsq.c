/* Levenberg-Marquardt least squares for f_G with the analytic Jacobian.
 *
 * Each iteration accumulates A = J'J and g = J'r over row blocks (dsyrk and
 * dgemv, model.c) and solves (A + lambda D) delta = g by Cholesky (LAPACK),
 * with D the diagonal of A floored away from zero. Over-specified fits have a
 * near-singular A; the floor and the damping keep the system positive
 * definite, and a failed factorisation only raises lambda.
 *
 * Trial points are evaluated with the normal equations when the previous step
 * was accepted (the likely outcome), and by the SSE alone after a rejection,
 * so that a run of rejections stays cheap.
 */
#include "sigmoe.h"
#include <math.h>
#include <string.h>

enum {
    LSQ_FTOL = 1,      /* relative reduction of the SSE below ftol */
    LSQ_XTOL = 2,      /* relative step below xtol */
    LSQ_GTOL = 3,      /* every column of J nearly orthogonal to r */
    LSQ_ZERO = 4,      /* SSE is zero to rounding */
    LSQ_STALL = 5,     /* no damping gives a decrease: a numerical minimum */
    LSQ_MAXIT = -1,    /* iteration cap reached */
    LSQ_NONFINITE = -2 /* the SSE at the start is not finite */
};

static const char *lsq_message(int code)
{
    switch (code) {
    case LSQ_FTOL: return "relative reduction in the SSE is at most ftol";
    case LSQ_XTOL: return "relative step size is at most xtol";
    case LSQ_GTOL: return "gradient is at most gtol (cosine between residuals and each Jacobian column)";
    case LSQ_ZERO: return "the SSE is zero";
    case LSQ_STALL: return "no damped step reduces the SSE (a numerical local minimum)";
    case LSQ_MAXIT: return "iteration limit reached without convergence";
    case LSQ_NONFINITE: return "the SSE is not finite at the start";
    }
    return "unknown";
}

static double enorm(const double *v, int p)
{
    double s = 0.0;
    for (int i = 0; i < p; i++) s += v[i] * v[i];
    return sqrt(s);
}

/* Largest |g_j| / sqrt(A_jj * sse): the cosine of the angle between r and
 * column j of J, which is scale free (as in MINPACK's gtol). */
static double grad_cosine(const double *A, const double *g, int P, double sse)
{
    double out = 0.0;
    for (int j = 0; j < P; j++) {
        double ajj = A[j + (size_t) j * P];
        if (ajj > 0 && sse > 0) {
            double c = fabs(g[j]) / sqrt(ajj * sse);
            if (c > out) out = c;
        }
    }
    return out;
}

SEXP C_lsq_fit(SEXP spec, SEXP theta0, SEXP x, SEXP y, SEXP control)
{
    moe_spec s = moe_spec_from_sexp(spec, theta0, x);
    int n = Rf_nrows(x), P = s.npar;
    if (!Rf_isReal(y) || XLENGTH(y) != n) Rf_error("internal: y must be double of length nrow(x)");
    if (!Rf_isReal(control) || XLENGTH(control) != 7) Rf_error("internal: control must be double of length 7");
    if (n < 1) Rf_error("internal: no rows");
    const double *ctl = REAL(control);
    int maxit = (int) ctl[0];
    double ftol = ctl[1], xtol = ctl[2], gtol = ctl[3], lambda = ctl[4];
    int nt = (int) ctl[5], trace = (int) ctl[6];
    if (nt < 1) nt = 1;
    const double lambda_max = 1e16;

    moe_pass ps;
    moe_pass_alloc(&s, n, nt, &ps);
    size_t PP = (size_t) P * P;
    double *theta = (double *) R_alloc(P, sizeof(double));
    double *trial = (double *) R_alloc(P, sizeof(double));
    double *delta = (double *) R_alloc(P, sizeof(double));
    double *D = (double *) R_alloc(P, sizeof(double));
    double *M = (double *) R_alloc(PP, sizeof(double));
    double *A = (double *) R_alloc(PP, sizeof(double));
    double *g = (double *) R_alloc(P, sizeof(double));
    double *A2 = (double *) R_alloc(PP, sizeof(double));
    double *g2 = (double *) R_alloc(P, sizeof(double));
    double *tr = (double *) R_alloc(maxit + 1, sizeof(double));
    memcpy(theta, REAL(theta0), sizeof(double) * P);

    const double *X = REAL(x), *Y = REAL(y);
    double sse = moe_model_pass(&s, X, Y, theta, &ps, A, g, nt);
    int evals = 1, iter = 0, code = 0, last_accepted = 1;
    double nu = 2.0;
    tr[0] = sse;
    if (!R_FINITE(sse)) code = LSQ_NONFINITE;

    while (code == 0) {
        if (iter >= maxit) { code = LSQ_MAXIT; break; }
        R_CheckUserInterrupt();
        if (sse <= 0.0) { code = LSQ_ZERO; break; }
        if (grad_cosine(A, g, P, sse) <= gtol) { code = LSQ_GTOL; break; }

        double dmax = 0.0;
        for (int j = 0; j < P; j++) if (A[j + (size_t) j * P] > dmax) dmax = A[j + (size_t) j * P];
        if (dmax <= 0.0) { code = LSQ_GTOL; break; } /* J == 0: nothing moves f */
        /* Parameters that do not move f (dead experts, saturated gates) have
         * A_jj ~ 0; the floor keeps their damping, and so their steps, bounded. */
        double dfloor = 1e-10 * dmax;
        for (int j = 0; j < P; j++) {
            double ajj = A[j + (size_t) j * P];
            D[j] = ajj > dfloor ? ajj : dfloor;
        }

        int accepted = 0;
        while (!accepted) {
            memcpy(M, A, sizeof(double) * PP);
            for (int j = 0; j < P; j++) M[j + (size_t) j * P] += lambda * D[j];
            int info = 0, one = 1;
            F77_CALL(dpotrf)("U", &P, M, &P, &info FCONE);
            if (info == 0) {
                memcpy(delta, g, sizeof(double) * P);
                F77_CALL(dpotrs)("U", &P, &one, M, &P, delta, &P, &info FCONE);
            }
            double sse_new = R_PosInf, pred = 0.0;
            if (info == 0) {
                for (int j = 0; j < P; j++) {
                    trial[j] = theta[j] + delta[j];
                    pred += delta[j] * (g[j] + lambda * D[j] * delta[j]);
                }
                sse_new = moe_model_pass(&s, X, Y, trial, &ps, last_accepted ? A2 : NULL,
                                         g2, nt);
                evals++;
            }
            double actual = sse - sse_new;
            if (info == 0 && R_FINITE(sse_new) && actual > 0.0 && pred > 0.0) {
                double rho = actual / pred, step = enorm(delta, P), size = enorm(theta, P);
                double t = 2.0 * rho - 1.0, shrink = 1.0 - t * t * t;
                lambda *= shrink > 1.0 / 3.0 ? shrink : 1.0 / 3.0;
                if (lambda < 1e-300) lambda = 1e-300;
                nu = 2.0;
                memcpy(theta, trial, sizeof(double) * P);
                double sse_old = sse;
                sse = sse_new;
                if (last_accepted) {
                    double *tmp = A; A = A2; A2 = tmp;
                    tmp = g; g = g2; g2 = tmp;
                } else {
                    sse = moe_model_pass(&s, X, Y, theta, &ps, A, g, nt);
                    evals++;
                }
                last_accepted = 1;
                accepted = 1;
                iter++;
                tr[iter] = sse;
                if (trace)
                    Rprintf("iter %4d  sse %.10g  lambda %.3g  rho %.3f\n", iter, sse, lambda, rho);
                if (actual <= ftol * sse_old && pred <= ftol * sse_old) code = LSQ_FTOL;
                else if (step <= xtol * (size + xtol)) code = LSQ_XTOL;
            } else {
                if (trace)
                    Rprintf("          rejected: sse %.10g  lambda %.3g  rho %.3f\n", sse_new,
                            lambda, pred > 0.0 ? actual / pred : R_NaN);
                last_accepted = 0;
                lambda *= nu;
                nu *= 2.0;
                if (lambda > lambda_max || !R_FINITE(lambda)) { code = LSQ_STALL; break; }
                R_CheckUserInterrupt();
            }
        }
    }

    /* A holds the upper triangle of J'J at theta; return it in full. */
    SEXP th = PROTECT(Rf_allocVector(REALSXP, P));
    memcpy(REAL(th), theta, sizeof(double) * P);
    SEXP jtj = PROTECT(Rf_allocMatrix(REALSXP, P, P));
    double *Jt = REAL(jtj);
    for (int j = 0; j < P; j++)
        for (int i = 0; i <= j; i++) Jt[i + (size_t) j * P] = Jt[j + (size_t) i * P] = A[i + (size_t) j * P];
    SEXP jtr = PROTECT(Rf_allocVector(REALSXP, P));
    memcpy(REAL(jtr), g, sizeof(double) * P);
    SEXP trs = PROTECT(Rf_allocVector(REALSXP, iter + 1));
    memcpy(REAL(trs), tr, sizeof(double) * (iter + 1));
    SEXP ssev = PROTECT(Rf_ScalarReal(sse)), itv = PROTECT(Rf_ScalarInteger(iter));
    SEXP evv = PROTECT(Rf_ScalarInteger(evals)), codev = PROTECT(Rf_ScalarInteger(code));
    SEXP msg = PROTECT(Rf_mkString(lsq_message(code))), conv = PROTECT(Rf_ScalarLogical(code > 0));
    const char *names[] = {"theta", "sse", "iterations", "evaluations", "code",
                           "message", "converged", "trace", "jtj", "jtr"};
    const SEXP elts[] = {th, ssev, itv, evv, codev, msg, conv, trs, jtj, jtr};
    SEXP out = moe_named_list(10, names, elts);
    UNPROTECT(10);
    return out;
}
