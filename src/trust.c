/* Moré's trust-region Levenberg-Marquardt steps (moe_control(trust = TRUE)).
 *
 * The algorithm of MINPACK's lmder (Moré 1978, "The Levenberg-Marquardt
 * algorithm: implementation and theory"), on the normal equations that the
 * passes of model.c give (A = J'J, g = J'r, upper triangles), so that J is
 * never stored:
 *
 * - the scale D_j is the largest column norm sqrt(A_jj) seen so far in the
 *   fit (1 for a column that starts at 0);
 * - each step solves min ||r - J p|| subject to ||D p|| <= Delta: p = p(lambda)
 *   with (A + lambda D^2) p = g, lambda = 0 when the Gauss-Newton step
 *   (the least-norm one, for a singular A) lies within 1.1 Delta, otherwise
 *   lambda > 0 with ||D p|| within 10% of Delta, as MINPACK's lmpar accepts.
 *   The subproblem is solved by the eigen-decomposition of the scaled matrix
 *   D^-1 A D^-1 = V W V' (LAPACK dsyev, once per iteration): with q =
 *   V' D^-1 g, ||D p(lambda)||^2 = sum_i q_i^2 / (w_i + lambda)^2, so every
 *   trial lambda costs O(P). lambda is found by lmpar's rules (its bracket,
 *   its start from the previous lambda, its Newton steps on 1 / Delta -
 *   1 / ||D p(lambda)|| and its stopping tests): which lambda of the 10% band
 *   a step takes decides the path, so with these rules the trial points are
 *   MINPACK's, up to rounding, from the same point in the same coordinates;
 * - the ratio of the actual to the predicted reduction, both relative to
 *   the SSE, sets Delta: at most 0.25, Delta shrinks (by a factor between 0.1
 *   and 0.5 from a quadratic fit of the reduction along p); at least 0.75, or
 *   when lambda = 0, Delta becomes twice ||D p||. A step is taken when the
 *   ratio is at least 1e-4;
 * - the first Delta is 100 ||D theta|| (100 when theta = 0), cut to the
 *   first step's length.
 * It stops when both relative reductions are at most ftol (code 1), when
 * Delta is at most xtol ||D theta|| (code 2), by the gradient test (code 3),
 * at a zero SSE (code 4), when no reduction above the machine precision is
 * possible (code 5), by the flat-valley rule (code 6), or at maxit accepted
 * steps (code -1).
 *
 * With a box (lower, upper), the steps are those of the default solver's
 * active set (lsq.h): a parameter at a bound whose descent direction points
 * out of the box is held there for the iteration, the subproblem is solved
 * over the others (the eigen-decomposition of their block of the scaled
 * matrix), and the step is projected onto the box. A step that the box cut
 * is judged by the quadratic model's reduction at the projected point;
 * Delta is updated from the length of the step before the cut. The
 * gradient test runs over the parameters not held. Without a bound reached,
 * the steps are those without a box.
 *
 * A rejected step costs an SSE-only pass; the normal equations are formed at
 * a trial point only after an accepted step, the likely outcome (as in
 * lsq.c).
 */
#include "lsq.h"
#include <float.h>
#include <math.h>
#include <string.h>

/* ||D p(lambda)|| for the scaled eigen-system (w, q); the terms of the null
 * space (w_i <= wnull) are left out at lambda = 0, and *unbounded is set when
 * one of them has q_i != 0 (no Gauss-Newton step of finite length). */
static double scaled_norm(const double *q, const double *w, double lambda, double wnull, int P,
                          int *unbounded)
{
    double s = 0.0;
    *unbounded = 0;
    for (int i = 0; i < P; i++) {
        if (lambda == 0.0 && w[i] <= wnull) {
            if (q[i] != 0.0) *unbounded = 1;
            continue;
        }
        double t = q[i] / (w[i] + lambda);
        s += t * t;
    }
    return sqrt(s);
}

/* lambda for the step bound delta (see the top of the file), by the rules of
 * MINPACK's lmpar in the eigen-basis of the scaled matrix: the root lies in
 * [parl, paru], parl the Newton step from 0 when the matrix has full rank
 * (0 otherwise) and paru = ||q|| / delta; the iteration starts from the
 * previous lambda moved into that bracket (||q|| / ||D p(0)|| when it is 0),
 * takes Newton steps on 1 / delta - 1 / ||D p(lambda)||, each at least the
 * bracket's lower end, and ends when ||D p|| is within 10% of delta, when
 * ||D p|| stops rising towards delta from below without a lower bound, or
 * after 10 trials. */
static double trust_lambda(const double *q, const double *w, double wnull, int P, double delta,
                           double previous)
{
    int unbounded;
    double n0 = scaled_norm(q, w, 0.0, wnull, P, &unbounded);
    /* with no Gauss-Newton step of finite length, ||D p|| falls from
     * infinity as lambda rises from 0 */
    double fp = unbounded ? R_PosInf : n0 - delta;
    if (fp <= 0.1 * delta) return 0.0;
    double parl = 0.0;
    if (!unbounded && w[0] > wnull) {
        double s3 = 0.0;
        for (int i = 0; i < P; i++) s3 += q[i] * q[i] / (w[i] * w[i] * w[i]);
        parl = s3 > 0.0 ? fp / delta * n0 * n0 / s3 : 0.0;
    }
    double gnorm = enorm(q, P), paru = gnorm / delta;
    if (paru == 0.0) paru = DBL_MIN / (delta < 0.1 ? delta : 0.1);
    double lambda = previous > parl ? previous : parl;
    if (lambda > paru) lambda = paru;
    if (lambda == 0.0 && n0 > 0.0) lambda = gnorm / n0;
    for (int it = 1; it <= 10; it++) {
        if (lambda == 0.0) lambda = 1e-3 * paru > DBL_MIN ? 1e-3 * paru : DBL_MIN;
        double s = 0.0, ds = 0.0;
        for (int i = 0; i < P; i++) {
            double t = q[i] / (w[i] + lambda);
            s += t * t;
            ds += t * t / (w[i] + lambda);
        }
        double previous_fp = fp;
        fp = sqrt(s) - delta;
        if (fabs(fp) <= 0.1 * delta || (parl == 0.0 && fp <= previous_fp && previous_fp < 0.0) ||
            it == 10 || !(ds > 0.0))
            break;
        /* Newton on 1 / delta - 1 / ||D p(lambda)|| */
        double parc = fp / delta * s / ds;
        if (fp > 0.0 && lambda > parl) parl = lambda;
        if (fp < 0.0 && lambda < paru) paru = lambda;
        lambda = lambda + parc > parl ? lambda + parc : parl;
    }
    return lambda;
}

/* ||D theta|| */
static double scaled_size(const double *diag, const double *theta, int P)
{
    double s = 0.0;
    for (int j = 0; j < P; j++) s += diag[j] * diag[j] * theta[j] * theta[j];
    return sqrt(s);
}

int moe_lsq_trust(const moe_lsq_problem *pb, const moe_lsq_control *ctl, moe_pass *ps, int nt,
                  double *theta, double **Ap, double **gp, double **A2p, double **g2p, double *ssep,
                  int *iterp, int *evalsp, sse_trace *tr)
{
    const moe_spec *s = pb->spec;
    int n = pb->n, P = s->npar, iter = *iterp, evals = *evalsp, code = 0;
    double *A = *Ap, *g = *gp, *A2 = *A2p, *g2 = *g2p, sse = *ssep;
    void (*check_interrupt)(void) = ctl->check_interrupt ? ctl->check_interrupt : no_interrupt;
    size_t PP = (size_t) P * P;
    double *diag = (double *) R_alloc(P, sizeof(double));
    double *V = (double *) R_alloc(PP, sizeof(double));
    double *w = (double *) R_alloc(P, sizeof(double));
    double *q = (double *) R_alloc(P, sizeof(double));
    double *c = (double *) R_alloc(P, sizeof(double));
    double *p = (double *) R_alloc(P, sizeof(double));
    double *trial = (double *) R_alloc(P, sizeof(double));
    const double *lower = pb->lower, *upper = pb->upper;
    int *fixed = (lower || upper) ? (int *) R_alloc(P, sizeof(int)) : NULL;
    int *free_ix = (int *) R_alloc(P, sizeof(int));
    /* the workspace for P also serves every smaller block */
    int lwork = -1, info = 0;
    double wq;
    F77_CALL(dsyev)("V", "U", &P, V, &P, w, &wq, &lwork, &info FCONE FCONE);
    lwork = info == 0 && wq >= 3 * P ? (int) wq : 3 * P;
    double *work = (double *) R_alloc(lwork, sizeof(double));
    const double factor = 100.0;
    double delta = 0.0, lambda = 0.0, xnorm = 0.0;
    int first = 1, last_accepted = 1;

    while (code == 0) {
        if (iter >= ctl->maxit) { code = MOE_LSQ_MAXIT; break; }
        check_interrupt();
        if (sse <= 0.0) { code = MOE_LSQ_ZERO; break; }
        int nfix = fixed ? active_set(theta, g, lower, upper, P, fixed) : 0;
        if (grad_cosine(A, g, P, sse, nfix ? fixed : NULL) <= ctl->gtol) {
            code = MOE_LSQ_GTOL; break;
        }
        double amax = 0.0;
        for (int j = 0; j < P; j++) {
            double ajj = A[j + (size_t) j * P], cn = ajj > 0.0 ? sqrt(ajj) : 0.0;
            if (ajj > amax) amax = ajj;
            if (first) diag[j] = cn > 0.0 ? cn : 1.0;
            else if (cn > diag[j]) diag[j] = cn;
        }
        /* J == 0 (or not finite): nothing moves f */
        if (!(amax > 0.0) || !R_FINITE(amax)) { code = MOE_LSQ_GTOL; break; }
        if (first) {
            xnorm = scaled_size(diag, theta, P);
            delta = xnorm > 0.0 ? factor * xnorm : factor;
        }
        /* the scaled system over the m parameters not held, and its
         * eigen-decomposition (V is m x m) */
        int m = 0;
        for (int j = 0; j < P; j++) if (!nfix || !fixed[j]) free_ix[m++] = j;
        /* every parameter held at its bound: a constrained minimum */
        if (m == 0) { code = MOE_LSQ_GTOL; break; }
        for (int b = 0; b < m; b++)
            for (int a = 0; a <= b; a++) {
                int i = free_ix[a], j = free_ix[b];
                V[a + (size_t) b * m] = A[i + (size_t) j * P] / (diag[i] * diag[j]);
            }
        F77_CALL(dsyev)("V", "U", &m, V, &m, w, work, &lwork, &info FCONE FCONE);
        if (info != 0 || !R_FINITE(w[0]) || !R_FINITE(w[m - 1])) { code = MOE_LSQ_STALL; break; }
        /* eigenvalues are >= 0 in exact arithmetic; those below the
         * rounding of the largest are the null space */
        double wnull = (double) m * DBL_EPSILON * (w[m - 1] > 0.0 ? w[m - 1] : 0.0);
        for (int i = 0; i < m; i++) {
            if (w[i] < 0.0) w[i] = 0.0;
            double t = 0.0;
            for (int a = 0; a < m; a++) t += V[a + (size_t) i * m] * g[free_ix[a]] / diag[free_ix[a]];
            q[i] = t;
        }
        double fnorm = sqrt(sse);
        int accepted = 0;
        while (!accepted) {
            lambda = trust_lambda(q, w, wnull, m, delta, lambda);
            for (int i = 0; i < m; i++)
                c[i] = lambda == 0.0 && w[i] <= wnull ? 0.0 : q[i] / (w[i] + lambda);
            double pnorm = 0.0;
            if (nfix) memset(p, 0, sizeof(double) * P);
            for (int a = 0; a < m; a++) {
                double t = 0.0;
                for (int i = 0; i < m; i++) t += V[a + (size_t) i * m] * c[i];
                p[free_ix[a]] = t / diag[free_ix[a]];
                pnorm += t * t;
            }
            pnorm = sqrt(pnorm);
            if (first && pnorm < delta) delta = pnorm;
            /* pnorm stays the length of the region's step, which Delta
             * follows, also when the box cuts the step */
            int cut = project_step(theta, p, lower, upper, P, trial);
            double sse_new = moe_model_pass(s, pb->x, pb->y, trial, ps, last_accepted ? A2 : NULL,
                                            g2, nt);
            evals++;
            double fnorm1 = R_FINITE(sse_new) ? sqrt(sse_new) : R_PosInf;
            /* reductions relative to the SSE, as MINPACK's */
            double actred = 0.1 * fnorm1 < fnorm ? 1.0 - (fnorm1 / fnorm) * (fnorm1 / fnorm) : -1.0;
            double prered, dirder;
            if (!cut) {
                double jp = quad_form(A, p, P);
                double t1 = jp > 0.0 ? sqrt(jp) / fnorm : 0.0, t2 = sqrt(lambda) * pnorm / fnorm;
                prered = t1 * t1 + 2.0 * t2 * t2;
                dirder = -(t1 * t1 + t2 * t2);
            } else {
                /* the projected step is not p(lambda): the model's own
                 * reduction, and the slope p'g along it */
                double pg = 0.0;
                for (int j = 0; j < P; j++) pg += p[j] * g[j];
                prered = (2.0 * pg - quad_form(A, p, P)) / sse;
                dirder = -pg / sse;
            }
            /* a cut step that the model says does not descend fails (its
             * ratio would have the wrong sign), and its reductions say
             * nothing about the tolerances */
            int judged = !cut || prered > 0.0;
            double ratio = judged && prered != 0.0 ? actred / prered : 0.0;
            if (!(ratio == ratio)) ratio = 0.0;  /* NaN: a failed step */
            if (ratio <= 0.25) {
                double f = actred >= 0.0 || !(dirder < 0.0) ? 0.5 : 0.5 * dirder / (dirder + 0.5 * actred);
                if (0.1 * fnorm1 >= fnorm || !(f >= 0.1)) f = 0.1;
                double cap = pnorm / 0.1;
                delta = f * (delta < cap ? delta : cap);
                lambda /= f;
            } else if (lambda == 0.0 || ratio >= 0.75) {
                delta = pnorm / 0.5;
                lambda *= 0.5;
            }
            if (ratio >= 1e-4) {
                memcpy(theta, trial, sizeof(double) * P);
                sse = sse_new;
                if (last_accepted) {
                    double *tmp = A; A = A2; A2 = tmp;
                    tmp = g; g = g2; g2 = tmp;
                } else {
                    sse = moe_model_pass(s, pb->x, pb->y, theta, ps, A, g, nt);
                    evals++;
                }
                last_accepted = 1;
                accepted = 1;
                first = 0;
                iter++;
                xnorm = scaled_size(diag, theta, P);
                trace_push(tr, sse);
                if (ctl->trace && ctl->print)
                    ctl->print("iter %4d  sse %.10g  lambda %.3g  delta %.3g  rho %.3f\n", iter, sse,
                               lambda, delta, ratio);
            } else {
                last_accepted = 0;
                if (ctl->trace && ctl->print)
                    ctl->print("          rejected: sse %.10g  lambda %.3g  delta %.3g  rho %.3f\n",
                               sse_new, lambda, delta, ratio);
            }
            if (judged && fabs(actred) <= ctl->ftol && prered <= ctl->ftol && 0.5 * ratio <= 1.0) {
                code = MOE_LSQ_FTOL; break;
            }
            if (delta <= ctl->xtol * xnorm) { code = MOE_LSQ_XTOL; break; }
            if (accepted && valley_reached(ctl, tr, sse, iter, n, P)) { code = MOE_LSQ_VALLEY; break; }
            /* no reduction the machine can resolve is left */
            if ((judged && fabs(actred) <= DBL_EPSILON && prered <= DBL_EPSILON && 0.5 * ratio <= 1.0) ||
                delta <= DBL_EPSILON * xnorm || !(delta > DBL_MIN)) {
                code = MOE_LSQ_STALL; break;
            }
            if (!accepted) check_interrupt();
        }
    }
    *Ap = A; *gp = g; *A2p = A2; *g2p = g2;
    *ssep = sse;
    *iterp = iter;
    *evalsp = evals;
    return code;
}
