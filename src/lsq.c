/* Levenberg-Marquardt least squares for f_G with the analytic Jacobian.
 *
 * Each iteration accumulates A = J'J and g = J'r over row blocks (model.c,
 * gram.c) and solves (A + lambda D) delta = g by Cholesky (LAPACK),
 * with D the diagonal of A floored away from zero. Over-specified fits have a
 * near-singular A; the floor and the damping keep the system positive
 * definite, and a failed factorisation only raises lambda.
 *
 * Trial points are evaluated with the normal equations when the previous step
 * was accepted (the likely outcome), and by the SSE alone after a rejection,
 * so that a run of rejections stays cheap.
 *
 * Bounds (the compact parameter set of the theory) are kept by a projected,
 * active-set Levenberg-Marquardt: a parameter at a bound whose descent
 * direction points out of the box is held fixed for the iteration (its row
 * and column of the damped system are replaced by the identity), the step of
 * the others is projected onto the box, and the predicted reduction is that
 * of the quadratic model at the projected step. A rejected step raises the
 * damping, which turns the step towards the scaled gradient, whose projection
 * is a descent direction; so the solver ends where the bound-constrained
 * first-order conditions hold: the gradient test runs over the free
 * parameters only, and a parameter at a bound has its gradient pointing out.
 * When no bound is reached, every operation is the unbounded one, so the
 * result is bit-identical to a fit without bounds.
 *
 * Geodesic acceleration (ctl->accel): the velocity delta of the damped
 * system is bent along the curvature of f, delta + a / 2 with
 * (A + lambda D) a = -J'fvv and fvv the second directional derivative of f
 * along delta, by one finite difference of f and the analytic J
 * (moe_model_pass_dir2(), one more pass per trial step). The factorisation of
 * the damped system serves both solves. A bend larger than accel_max of the
 * step (in the norm of D) is not trusted and the plain step is tried; an
 * accelerated step is judged by the quadratic model's reduction at the full
 * step. With bounds, only steps with no parameter held at a bound are bent.
 *
 * The flat-valley rule (ctl->valley_tol > 0): over-specified mixtures have
 * long flat valleys along which the SSE keeps falling by tiny amounts. The
 * solver stops once it fell by at most valley_tol * sse / (n - P) (that many
 * noise variances, the unit in which the data tell SSEs apart) over the last
 * valley_m accepted iterations.
 *
 * moe_lsq_solve() is the solver, over plain C types; C_lsq_fit() only reads
 * its arguments into them and builds the result list.
 */
#include "adapt.h"
#include "lsq.h"
#include <math.h>
#include <string.h>

const char *moe_lsq_message(int code)
{
    switch (code) {
    case MOE_LSQ_FTOL: return "relative reduction in the SSE is at most ftol";
    case MOE_LSQ_XTOL: return "relative step size is at most xtol";
    case MOE_LSQ_GTOL: return "gradient is at most gtol (cosine between residuals and each Jacobian column)";
    case MOE_LSQ_ZERO: return "the SSE is zero";
    case MOE_LSQ_STALL: return "no damped step reduces the SSE (a numerical local minimum)";
    case MOE_LSQ_VALLEY: return "the SSE fell by less than valley_tol noise variances over the last valley_m iterations (a flat valley the data cannot resolve)";
    case MOE_LSQ_MAXIT: return "iteration limit reached without convergence";
    case MOE_LSQ_NONFINITE: return "the SSE is not finite at the start";
    }
    return "unknown";
}

void moe_lsq_solve(const moe_lsq_problem *pb, const moe_lsq_control *ctl, double *theta,
                   moe_lsq_result *res)
{
    const moe_spec *s = pb->spec;
    const double *X = pb->x, *Y = pb->y;
    int n = pb->n, P = s->npar, maxit = ctl->maxit, nt = ctl->threads < 1 ? 1 : ctl->threads;
    double gtol = ctl->gtol, lambda = ctl->lambda;
    void (*check_interrupt)(void) = ctl->check_interrupt ? ctl->check_interrupt : no_interrupt;

    moe_pass ps;
    moe_pass_alloc(s, n, nt, &ps);
    ps.sw = pb->sw;
    size_t PP = (size_t) P * P;
    double *trial = (double *) R_alloc(P, sizeof(double));
    double *delta = (double *) R_alloc(P, sizeof(double));
    double *D = (double *) R_alloc(P, sizeof(double));
    double *M = (double *) R_alloc(PP, sizeof(double));
    double *A = (double *) R_alloc(PP, sizeof(double));
    double *g = (double *) R_alloc(P, sizeof(double));
    double *A2 = (double *) R_alloc(PP, sizeof(double));
    double *g2 = (double *) R_alloc(P, sizeof(double));
    double *acc = ctl->accel ? (double *) R_alloc(P, sizeof(double)) : NULL;
    /* the finite-difference step of the acceleration, and the largest bend
     * 2 |a| / |delta| (in the norm of D) that is trusted (chosen on the
     * problems of bench/fit.R among h = 0.02, 0.1 and bounds 0.3, 0.5, 0.75) */
    const double accel_h = 0.1, accel_max = 0.5;
    const double *lower = pb->lower, *upper = pb->upper;
    int *fixed = (lower || upper) ? (int *) R_alloc(P, sizeof(int)) : NULL;
    sse_trace tr = {NULL, 0, 0};

    double sse = moe_model_pass(s, X, Y, theta, &ps, A, g, nt);
    int evals = 1, iter = 0, code = 0, last_accepted = 1;
    double nu = 2.0;
    trace_push(&tr, sse);
    if (!R_FINITE(sse)) code = MOE_LSQ_NONFINITE;
    /* experts linear in their parameters: variable projection first; it
     * hands over (code 0) with A, g and sse valid at theta */
    if (code == 0 && ctl->varpro && moe_lsq_varpro_applies(s))
        code = moe_lsq_varpro(pb, ctl, &ps, nt, theta, &A, &g, &A2, &g2, &sse, &lambda, &iter,
                              &evals, &tr);

    /* Moré's trust region instead of the damping updates below */
    if (code == 0 && ctl->trust)
        code = moe_lsq_trust(pb, ctl, &ps, nt, theta, &A, &g, &A2, &g2, &sse, &iter, &evals, &tr);

    while (code == 0) {
        if (iter >= maxit) { code = MOE_LSQ_MAXIT; break; }
        check_interrupt();
        if (sse <= 0.0) { code = MOE_LSQ_ZERO; break; }
        int nfix = fixed ? active_set(theta, g, lower, upper, P, fixed) : 0;
        if (grad_cosine(A, g, P, sse, nfix ? fixed : NULL) <= gtol) { code = MOE_LSQ_GTOL; break; }

        /* J == 0: nothing moves f */
        if (lm_scaling(A, P, D) <= 0.0) { code = MOE_LSQ_GTOL; break; }

        int accepted = 0;
        while (!accepted) {
            int one = 1, bent = 0;
            int info = lm_damped_solve(A, g, D, lambda, nfix ? fixed : NULL, P, M, delta);
            if (info == 0 && ctl->accel && !nfix) {
                /* geodesic acceleration: the velocity delta bent along the
                 * curvature of f, delta + a / 2 with (A + lambda D) a = -J'fvv;
                 * a bend that is large next to the step is not trusted, and
                 * the plain step is tried instead */
                moe_model_pass_dir2(s, X, theta, delta, accel_h, &ps, acc, nt);
                evals++;
                for (int j = 0; j < P; j++) acc[j] = -acc[j];
                F77_CALL(dpotrs)("U", &P, &one, M, &P, acc, &P, &info FCONE);
                double na = 0.0, nv = 0.0;
                for (int j = 0; j < P; j++) {
                    na += D[j] * acc[j] * acc[j];
                    nv += D[j] * delta[j] * delta[j];
                }
                if (info == 0 && R_FINITE(na) && 2.0 * sqrt(na) <= accel_max * sqrt(nv)) {
                    for (int j = 0; j < P; j++) delta[j] += 0.5 * acc[j];
                    bent = 1;
                }
                info = 0;
            }
            double sse_new = R_PosInf, pred = 0.0;
            if (info == 0) {
                int cut = project_step(theta, delta, lower, upper, P, trial);
                /* the damped system's identity gives the plain step's
                 * reduction; a held, cut or bent step has the model's */
                if (nfix || cut || bent)
                    pred = model_reduction(A, g, delta, P);
                else
                    for (int j = 0; j < P; j++) pred += delta[j] * (g[j] + lambda * D[j] * delta[j]);
                sse_new = moe_model_pass(s, X, Y, trial, &ps, last_accepted ? A2 : NULL, g2, nt);
                evals++;
            }
            double actual = sse - sse_new;
            if (info == 0 && R_FINITE(sse_new) && actual > 0.0 && pred > 0.0) {
                double rho = actual / pred, step = enorm(delta, P), size = enorm(theta, P);
                lm_accepted(rho, &lambda, &nu);
                memcpy(theta, trial, sizeof(double) * P);
                double sse_old = sse;
                sse = sse_new;
                if (last_accepted) {
                    double *tmp = A; A = A2; A2 = tmp;
                    tmp = g; g = g2; g2 = tmp;
                } else {
                    sse = moe_model_pass(s, X, Y, theta, &ps, A, g, nt);
                    evals++;
                }
                last_accepted = 1;
                accepted = 1;
                iter++;
                trace_push(&tr, sse);
                if (ctl->trace && ctl->print)
                    ctl->print("iter %4d  sse %.10g  lambda %.3g  rho %.3f\n", iter, sse, lambda, rho);
                code = lm_stop_code(ctl, actual, pred, sse_old, sse, step, size, &tr, iter, n, P);
            } else {
                if (ctl->trace && ctl->print)
                    ctl->print("          rejected: sse %.10g  lambda %.3g  rho %.3f\n", sse_new,
                               lambda, pred > 0.0 ? actual / pred : R_NaN);
                last_accepted = 0;
                if (lm_rejected(&lambda, &nu)) { code = MOE_LSQ_STALL; break; }
                check_interrupt();
            }
        }
    }
    res->sse = sse;
    res->iterations = iter;
    res->evaluations = evals;
    res->code = code;
    res->trace = tr.v;
    res->jtj = A;
    res->jtr = g;
}

/* ---- .Call adapter ---- */

/* The control vector, by name: R builds it with these names in this order
 * (lsq_control_vector() in R/control.R), and a vector whose names differ is
 * refused rather than read by position. */
enum { CTL_MAXIT, CTL_FTOL, CTL_XTOL, CTL_GTOL, CTL_LAMBDA, CTL_THREADS, CTL_TRACE, CTL_ACCEL,
       CTL_VALLEY_M, CTL_VALLEY_TOL, CTL_VARPRO, CTL_TRUST, CTL_N };
static const char *ctl_names[CTL_N] = {"maxit", "ftol", "xtol", "gtol", "lambda", "threads", "trace",
                                       "accel", "valley_m", "valley_tol", "varpro", "trust"};

static int whole_in(double v, double lo, double hi)
{
    return R_FINITE(v) && v == floor(v) && v >= lo && v <= hi;
}

static moe_lsq_control control_from_sexp(SEXP control)
{
    if (!Rf_isReal(control) || XLENGTH(control) != CTL_N)
        Rf_error("internal: control must be a double vector of length %d", CTL_N);
    SEXP nms = Rf_getAttrib(control, R_NamesSymbol);
    if (!Rf_isString(nms) || XLENGTH(nms) != CTL_N)
        Rf_error("internal: control must be named");
    for (int i = 0; i < CTL_N; i++)
        if (strcmp(CHAR(STRING_ELT(nms, i)), ctl_names[i]) != 0)
            Rf_error("internal: control element %d must be named \"%s\", not \"%s\"", i + 1,
                     ctl_names[i], CHAR(STRING_ELT(nms, i)));
    const double *v = REAL(control);
    if (!whole_in(v[CTL_MAXIT], 0, 1e9)) Rf_error("`maxit` must be a whole number between 0 and 1e9");
    if (!(R_FINITE(v[CTL_FTOL]) && v[CTL_FTOL] >= 0)) Rf_error("`ftol` must be a finite number >= 0");
    if (!(R_FINITE(v[CTL_XTOL]) && v[CTL_XTOL] >= 0)) Rf_error("`xtol` must be a finite number >= 0");
    if (!(R_FINITE(v[CTL_GTOL]) && v[CTL_GTOL] >= 0)) Rf_error("`gtol` must be a finite number >= 0");
    if (!(R_FINITE(v[CTL_LAMBDA]) && v[CTL_LAMBDA] > 0)) Rf_error("`lambda` must be a finite number > 0");
    if (!whole_in(v[CTL_THREADS], 1, MOE_MAX_THREADS))
        Rf_error("`threads` must be a whole number between 1 and %d", MOE_MAX_THREADS);
    if (!(v[CTL_TRACE] == 0 || v[CTL_TRACE] == 1)) Rf_error("`trace` must be TRUE or FALSE");
    if (!(v[CTL_ACCEL] == 0 || v[CTL_ACCEL] == 1)) Rf_error("`accel` must be TRUE or FALSE");
    if (!whole_in(v[CTL_VALLEY_M], 1, 1e9)) Rf_error("`valley_m` must be a whole number between 1 and 1e9");
    if (!(R_FINITE(v[CTL_VALLEY_TOL]) && v[CTL_VALLEY_TOL] >= 0))
        Rf_error("`valley_tol` must be a finite number >= 0");
    if (!(v[CTL_VARPRO] == 0 || v[CTL_VARPRO] == 1)) Rf_error("`varpro` must be TRUE or FALSE");
    if (!(v[CTL_TRUST] == 0 || v[CTL_TRUST] == 1)) Rf_error("`trust` must be TRUE or FALSE");
    if (v[CTL_TRUST] == 1 && v[CTL_ACCEL] == 1) Rf_error("`trust` and `accel` cannot both be TRUE");
    moe_lsq_control ctl = {(int) v[CTL_MAXIT], moe_threads_cap((int) v[CTL_THREADS]),
                           (int) v[CTL_TRACE],
                           v[CTL_FTOL], v[CTL_XTOL], v[CTL_GTOL], v[CTL_LAMBDA],
                           (int) v[CTL_ACCEL], (int) v[CTL_VALLEY_M], v[CTL_VALLEY_TOL],
                           (int) v[CTL_VARPRO], (int) v[CTL_TRUST], R_CheckUserInterrupt, Rprintf};
    return ctl;
}

/* A bound: NULL, or a double vector of length P without NaN. */
static const double *bound_from_sexp(SEXP b, int P, const char *what)
{
    if (Rf_isNull(b)) return NULL;
    moe_check_real(b, P, what);
    const double *v = REAL(b);
    for (int j = 0; j < P; j++)
        if (ISNAN(v[j])) Rf_error("internal: %s has a missing value", what);
    return v;
}

SEXP C_lsq_fit(SEXP spec, SEXP theta0, SEXP x, SEXP y, SEXP control, SEXP lower,
               SEXP upper, SEXP sqrt_weights)
{
    moe_spec s = moe_spec_from_sexp(spec, theta0, x);
    int n = Rf_nrows(x), P = s.npar;
    moe_check_response(y, n);
    if (n < 1) Rf_error("internal: no rows");
    moe_lsq_control ctl = control_from_sexp(control);
    const double *lo = bound_from_sexp(lower, P, "lower"), *up = bound_from_sexp(upper, P, "upper");
    const double *t0 = REAL(theta0);
    for (int j = 0; j < P; j++) {
        if ((lo && t0[j] < lo[j]) || (up && t0[j] > up[j]))
            Rf_error("internal: the start lies outside the bounds (parameter %d)", j + 1);
    }
    const double *sw = NULL;
    if (!Rf_isNull(sqrt_weights)) {
        moe_check_real(sqrt_weights, n, "sqrt_weights");
        sw = REAL(sqrt_weights);
        for (int r = 0; r < n; r++)
            if (!(R_FINITE(sw[r]) && sw[r] >= 0)) Rf_error("internal: weights must be finite and >= 0");
    }
    moe_lsq_problem pb = {&s, REAL(x), REAL(y), n, lo, up, sw};

    SEXP th = PROTECT(Rf_allocVector(REALSXP, P));
    memcpy(REAL(th), REAL(theta0), sizeof(double) * P);
    moe_lsq_result res;
    moe_lsq_solve(&pb, &ctl, REAL(th), &res);

    /* jtj holds the upper triangle of J'J at theta; return it in full. */
    SEXP jtj = PROTECT(Rf_allocMatrix(REALSXP, P, P));
    double *Jt = REAL(jtj);
    for (int j = 0; j < P; j++)
        for (int i = 0; i <= j; i++)
            Jt[i + (size_t) j * P] = Jt[j + (size_t) i * P] = res.jtj[i + (size_t) j * P];
    SEXP jtr = PROTECT(Rf_allocVector(REALSXP, P));
    memcpy(REAL(jtr), res.jtr, sizeof(double) * P);
    SEXP trs = PROTECT(Rf_allocVector(REALSXP, res.iterations + 1));
    memcpy(REAL(trs), res.trace, sizeof(double) * (res.iterations + 1));
    SEXP ssev = PROTECT(Rf_ScalarReal(res.sse)), itv = PROTECT(Rf_ScalarInteger(res.iterations));
    SEXP evv = PROTECT(Rf_ScalarInteger(res.evaluations)), codev = PROTECT(Rf_ScalarInteger(res.code));
    SEXP msg = PROTECT(Rf_mkString(moe_lsq_message(res.code)));
    SEXP conv = PROTECT(Rf_ScalarLogical(res.code > 0));
    const char *names[] = {"theta", "sse", "iterations", "evaluations", "code",
                           "message", "converged", "trace", "jtj", "jtr"};
    const SEXP elts[] = {th, ssev, itv, evv, codev, msg, conv, trs, jtj, jtr};
    SEXP out = moe_named_list(10, names, elts);
    UNPROTECT(10);
    return out;
}
