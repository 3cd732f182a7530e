/* Variable projection: the phase of the least-squares solver for experts
 * that are linear in their parameters (linear and constant experts without
 * output weights).
 *
 * Then f(x; beta, psi) = Phi(x; beta) psi: given the gates' parameters beta,
 * the experts' parameters psi enter linearly, and the best psi for a beta is
 * one linear solve. The phase runs Levenberg-Marquardt on beta alone, with
 * psi kept at its optimum (Kaufman's variant of variable projection): the
 * step of beta solves the reduced system (S + lambda D) delta = g_r, with the
 * Schur complement S = A_bb - A_bp A_pp^-1 A_pb of J'J and the reduced
 * gradient g_r = g_b - A_bp A_pp^-1 g_p; D is the diagonal of S, floored.
 * A trial beta' is evaluated by one pass at (beta', psi), whose normal
 * equations give the exact optimum psi' = psi + A'_pp^-1 g'_p and its exact
 * SSE, SSE(beta', psi) - (2 d'g'_p - d'A'_pp d) with d = psi' - psi, since f
 * is linear in psi. So a rejected step costs one pass, and an accepted one
 * two (the second gives J'J at the new point). On the over-specified fits
 * of the paper's Figure 1 study it takes 3 to 10 times fewer iterations
 * than the full Levenberg-Marquardt (bench/study-varpro.out); it is not the
 * default (see ?moe_control).
 *
 * The linear solves carry a ridge of 1e-10 of the diagonal (floored at 1e-10
 * of its largest entry), so that a dead expert (a gate near 0 everywhere, a
 * zero column of Phi) or two experts with proportional gates (a split atom)
 * give a bounded psi; the SSE reduction is computed with the unridged
 * matrix, so the SSE stays exact.
 *
 * Bounds: the gates' parameters have the active set of lsq.c (held at a
 * bound when the reduced gradient points out), and their step is projected
 * onto the box. The experts' optimum psi' is the optimum within the box
 * (refit_linear(), a primal active-set method on the linear block), and the
 * experts' parameters it holds at a bound are constants of the next reduced
 * step. A failed factorisation hands the state over to the projected
 * Levenberg-Marquardt loop of lsq.c. The stopping rules are those of lsq.c,
 * with the step of both parts in the xtol rule, and the gradient test over
 * the parameters not held at a bound.
 */
#include "lsq.h"

int moe_lsq_varpro_applies(const moe_spec *s)
{
    return (s->expert == MOE_EXPERT_LINEAR || s->expert == MOE_EXPERT_CONSTANT) && !s->outw;
}

/* Element (i, j) of a symmetric matrix stored in its upper triangle. */
static inline double sym_at(const double *A, int P, int i, int j)
{
    return i <= j ? A[i + (size_t) j * P] : A[j + (size_t) i * P];
}

/* The ridged Cholesky factor C (upper, nL x nL) of A_pp, the block of the
 * linear parameters lin[] of A (P x P, upper). Returns 0 if it fails. */
static int factor_linear(const double *A, int P, const int *lin, int nL, double *C)
{
    double dmax = 0.0;
    for (int a = 0; a < nL; a++) {
        double v = A[lin[a] + (size_t) lin[a] * P];
        if (v > dmax) dmax = v;
    }
    if (!(dmax > 0.0) || !R_FINITE(dmax)) return 0;
    double floor = 1e-10 * dmax;
    for (int b = 0; b < nL; b++) {
        for (int a = 0; a <= b; a++) C[a + (size_t) b * nL] = sym_at(A, P, lin[a], lin[b]);
        double v = C[b + (size_t) b * nL];
        C[b + (size_t) b * nL] = v + 1e-10 * (v > floor ? v : floor);
    }
    int info = 0;
    F77_CALL(dpotrf)("U", &nL, C, &nL, &info FCONE);
    return info == 0;
}

/* The SSE reduction 2 d'g_p - d'A_pp d of the step d of the linear
 * parameters (exact: f is linear in them). */
static double linear_reduction(const double *A, const double *g, int P, const int *lin, int nL,
                               const double *d)
{
    double lin_t = 0.0, quad = 0.0;
    for (int b = 0; b < nL; b++) {
        lin_t += d[b] * g[lin[b]];
        double s = 0.0;
        for (int a = 0; a < nL; a++) s += sym_at(A, P, lin[a], lin[b]) * d[a];
        quad += d[b] * s;
    }
    return 2.0 * lin_t - quad;
}

/* The optimal step d of the linear parameters (lin[], nL of them) from
 * theta at a point with normal equations A, g, within the box: minimises
 * -2 d'g_p + d'A_pp d subject to lower <= theta_p + d <= upper, by a primal
 * active-set method from d = 0 (feasible: theta is in the box). state[a] is
 * -1 or 1 for a parameter held at its lower or upper bound, 0 when free; the
 * free parameters solve their block of the normal equations (ridged as in
 * factor_linear()) with the held ones as constants; a free parameter that
 * would leave the box stops the move there and is held; a held one whose
 * descent direction points into the box is freed. Each move lowers the
 * objective, so the loop ends; it is capped at 4 nL + 10 rounds all the
 * same, and then keeps its last feasible d. Returns the SSE reduction
 * 2 d'g_p - d'A_pp d (exact: f is linear in these parameters), with d = 0
 * and 0 when nothing reduces the SSE or a factorisation fails. */
typedef struct {
    double *C, *dn, *rhs; /* nL x nL, nL, nL */
    int *idx, *state, *sub; /* nL each */
} refit_scratch;

static double refit_linear(const double *A, const double *g, int P, const int *lin, int nL,
                           const double *theta, const double *lower, const double *upper,
                           refit_scratch *w, double *d)
{
    double *C = w->C, *dn = w->dn, *rhs = w->rhs;
    int *idx = w->idx, *state = w->state, *sub = w->sub;
    for (int a = 0; a < nL; a++) {
        int j = lin[a];
        d[a] = 0.0;
        state[a] = (lower && theta[j] <= lower[j] && g[j] <= 0.0) ? -1
                 : (upper && theta[j] >= upper[j] && g[j] >= 0.0) ? 1 : 0;
    }
    int ok = 1;
    for (int round = 0; round < 4 * nL + 10; round++) {
        int nf = 0;
        for (int a = 0; a < nL; a++) {
            if (state[a] == 0) idx[nf++] = a;
            else {
                int j = lin[a];
                d[a] = (state[a] < 0 ? lower[j] : upper[j]) - theta[j];
            }
        }
        /* the free parameters' solve, the held ones at their bounds */
        for (int a = 0; a < nL; a++) dn[a] = d[a];
        if (nf > 0) {
            for (int f = 0; f < nf; f++) sub[f] = lin[idx[f]];
            if (!factor_linear(A, P, sub, nf, C)) { ok = 0; break; }
            for (int f = 0; f < nf; f++) {
                double v = g[sub[f]];
                for (int a = 0; a < nL; a++)
                    if (state[a] != 0) v -= sym_at(A, P, sub[f], lin[a]) * d[a];
                rhs[f] = v;
            }
            int info = 0, one = 1;
            F77_CALL(dpotrs)("U", &nf, &one, C, &nf, rhs, &nf, &info FCONE);
            if (info != 0) { ok = 0; break; }
            for (int f = 0; f < nf; f++) dn[idx[f]] = rhs[f];
        }
        /* the longest move from d towards dn that stays in the box */
        double alpha = 1.0;
        int block = -1;
        for (int f = 0; f < nf; f++) {
            int a = idx[f], j = lin[a];
            double to = theta[j] + dn[a], step = dn[a] - d[a];
            if (lower && to < lower[j] && step < 0.0) {
                double t = (lower[j] - theta[j] - d[a]) / step;
                if (t < alpha) { alpha = t; block = a; }
            }
            if (upper && to > upper[j] && step > 0.0) {
                double t = (upper[j] - theta[j] - d[a]) / step;
                if (t < alpha) { alpha = t; block = a; }
            }
        }
        if (block >= 0) {
            if (alpha < 0.0) alpha = 0.0;
            for (int f = 0; f < nf; f++) d[idx[f]] += alpha * (dn[idx[f]] - d[idx[f]]);
            /* held at the bound it ran into (either bound may be absent) */
            int jb = lin[block];
            state[block] = (lower && theta[jb] + dn[block] < lower[jb]) ? -1 : 1;
            continue;
        }
        for (int a = 0; a < nL; a++) d[a] = dn[a];
        /* free the held parameter whose descent direction g - A d points
         * furthest into the box */
        int release = -1;
        double best = 0.0;
        for (int a = 0; a < nL; a++) {
            if (state[a] == 0) continue;
            double w = g[lin[a]];
            for (int b = 0; b < nL; b++) w -= sym_at(A, P, lin[a], lin[b]) * d[b];
            double into = state[a] < 0 ? w : -w;
            if (into > best) { best = into; release = a; }
        }
        if (release < 0) break;
        state[release] = 0;
    }
    double r = ok ? linear_reduction(A, g, P, lin, nL, d) : R_NaN;
    if (!(R_FINITE(r) && r > 0.0)) {
        for (int a = 0; a < nL; a++) d[a] = 0.0;
        return 0.0;
    }
    return r;
}

static inline void swap_ptr(double **a, double **b)
{
    double *t = *a;
    *a = *b;
    *b = t;
}

/* from with its linear parameters moved by d, into out (which holds the rest
 * of from already): clamped to the box, so that a parameter the refit holds
 * at a bound lands on it, not a rounding error past it. */
static void apply_linear(const double *from, const double *d, const int *lin, int nL,
                         const double *lower, const double *upper, double *out)
{
    for (int a = 0; a < nL; a++) {
        int j = lin[a];
        double v = from[j] + d[a];
        if (lower && v < lower[j]) v = lower[j];
        if (upper && v > upper[j]) v = upper[j];
        out[j] = v;
    }
}

int moe_lsq_varpro(const moe_lsq_problem *pb, const moe_lsq_control *ctl, moe_pass *ps, int nt,
                   double *theta, double **A, double **g, double **A2, double **g2, double *sse,
                   double *lambda, int *iter, int *evals, sse_trace *tr)
{
    const moe_spec *s = pb->spec;
    const double *X = pb->x, *Y = pb->y, *lower = pb->lower, *upper = pb->upper;
    int P = s->npar, n = pb->n, nL = 0, nN = 0;
    void (*check_interrupt)(void) = ctl->check_interrupt ? ctl->check_interrupt : no_interrupt;

    /* the linear parameters psi (a_i, b_i) and the gates' beta, in the order
     * of theta (no output weights here) */
    int *lin = (int *) R_alloc(P, sizeof(int)), *non = (int *) R_alloc(P, sizeof(int));
    for (int i = 0; i < s->k; i++) {
        if (moe_theta_gated(s, i))
            for (int j = moe_theta_gate(s, i); j < moe_theta_expert(s, i); j++) non[nN++] = j;
        for (int j = moe_theta_expert(s, i); j <= moe_theta_b(s, i); j++) lin[nL++] = j;
    }
    if (nL == 0 || nN == 0) return 0;

    double *C = (double *) R_alloc((size_t) nL * nL, sizeof(double));
    double *XL = (double *) R_alloc((size_t) nL * nN, sizeof(double));
    double *S = (double *) R_alloc((size_t) nN * nN, sizeof(double));
    double *M = (double *) R_alloc((size_t) nN * nN, sizeof(double));
    double *gr = (double *) R_alloc(nN, sizeof(double));
    double *dN = (double *) R_alloc(nN, sizeof(double));
    double *DN = (double *) R_alloc(nN, sizeof(double));
    double *dL = (double *) R_alloc(nL, sizeof(double));
    double *trial = (double *) R_alloc(P, sizeof(double));
    double *point = (double *) R_alloc(P, sizeof(double)); /* (beta', psi') */
    /* the step and the descent direction over all of theta, for the box
     * mechanics of lsq.h (active_set(), project_step()) */
    double *delta = (double *) R_alloc(P, sizeof(double));
    double *gfull = (double *) R_alloc(P, sizeof(double));
    int *fixed = (int *) R_alloc(nN, sizeof(int));
    int *fixedP = (int *) R_alloc(P, sizeof(int));
    int *linf = (int *) R_alloc(nL, sizeof(int)); /* the free linear parameters */
    refit_scratch rw = {(double *) R_alloc((size_t) nL * nL, sizeof(double)),
                        (double *) R_alloc(nL, sizeof(double)), (double *) R_alloc(nL, sizeof(double)),
                        (int *) R_alloc(nL, sizeof(int)), (int *) R_alloc(nL, sizeof(int)),
                        (int *) R_alloc(nL, sizeof(int))};
    double nu = 2.0, red = 0.0;

    /* the start's psi replaced by its optimum in the box */
    red = refit_linear(*A, *g, P, lin, nL, theta, lower, upper, &rw, dL);
    if (red > 0.0) {
        memcpy(trial, theta, sizeof(double) * P);
        apply_linear(theta, dL, lin, nL, lower, upper, trial);
        double s2 = moe_model_pass(s, X, Y, trial, ps, *A2, *g2, nt);
        (*evals)++;
        if (R_FINITE(s2) && s2 < *sse) {
            memcpy(theta, trial, sizeof(double) * P);
            swap_ptr(A, A2);
            swap_ptr(g, g2);
            *sse = s2;
            (*iter)++;
            trace_push(tr, s2);
            if (ctl->trace && ctl->print)
                ctl->print("iter %4d  sse %.10g  (experts' parameters solved)\n", *iter, s2);
        }
    }

    for (;;) {
        if (*iter >= ctl->maxit) return MOE_LSQ_MAXIT;
        check_interrupt();
        if (*sse <= 0.0) return MOE_LSQ_ZERO;
        const double *Ac = *A, *gc = *g;
        /* the linear parameters held at a bound (their descent direction
         * points out of the box) are constants of the reduced problem */
        active_set(theta, gc, lower, upper, P, fixedP);
        int nLf = 0;
        for (int a = 0; a < nL; a++)
            if (!fixedP[lin[a]]) linf[nLf++] = lin[a];
        /* XL = A_pp^-1 A_pb over the free p; S = A_bb - A_bp XL; gr = g_b - XL' g_p */
        if (nLf > 0 && !factor_linear(Ac, P, linf, nLf, C)) return 0;
        for (int b = 0; b < nN; b++)
            for (int a = 0; a < nLf; a++) XL[a + (size_t) b * nLf] = sym_at(Ac, P, linf[a], non[b]);
        int info = 0;
        if (nLf > 0) F77_CALL(dpotrs)("U", &nLf, &nN, C, &nLf, XL, &nLf, &info FCONE);
        if (info != 0) return 0;
        for (int b = 0; b < nN; b++) {
            for (int a = 0; a <= b; a++) {
                double v = sym_at(Ac, P, non[a], non[b]);
                for (int l = 0; l < nLf; l++) v -= sym_at(Ac, P, non[a], linf[l]) * XL[l + (size_t) b * nLf];
                S[a + (size_t) b * nN] = S[b + (size_t) a * nN] = v;
            }
            double v = gc[non[b]];
            for (int l = 0; l < nLf; l++) v -= XL[l + (size_t) b * nLf] * gc[linf[l]];
            gr[b] = v;
        }
        /* the gates' parameters held at a bound, by the reduced gradient */
        memcpy(gfull, gc, sizeof(double) * P);
        for (int a = 0; a < nN; a++) gfull[non[a]] = gr[a];
        active_set(theta, gfull, lower, upper, P, fixedP);
        int nfix = 0;
        for (int a = 0; a < nN; a++) nfix += fixed[a] = fixedP[non[a]];
        if (grad_cosine(Ac, gc, P, *sse, (lower || upper) ? fixedP : NULL) <= ctl->gtol)
            return MOE_LSQ_GTOL;
        double dmax = lm_scaling(S, nN, DN);
        if (!(dmax > 0.0) || !R_FINITE(dmax)) return 0;

        for (;;) {
            info = lm_damped_solve(S, gr, DN, *lambda, nfix ? fixed : NULL, nN, M, dN);
            double s_star = R_PosInf, s_t = R_PosInf, pred = 0.0;
            if (info == 0) {
                for (int j = 0; j < P; j++) delta[j] = 0.0;
                for (int a = 0; a < nN; a++) delta[non[a]] = dN[a];
                int cut = project_step(theta, delta, lower, upper, P, trial);
                for (int a = 0; a < nN; a++) dN[a] = delta[non[a]];
                if (nfix || cut) {
                    /* the reduced model's reduction 2 d'gr - d'S d at the held
                     * or cut step (S is stored in full) */
                    double lt = 0.0, qd = 0.0;
                    for (int b = 0; b < nN; b++) {
                        lt += dN[b] * gr[b];
                        double v = 0.0;
                        for (int a = 0; a < nN; a++) v += S[a + (size_t) b * nN] * dN[a];
                        qd += dN[b] * v;
                    }
                    pred = 2.0 * lt - qd;
                } else {
                    for (int a = 0; a < nN; a++) pred += dN[a] * (gr[a] + *lambda * DN[a] * dN[a]);
                }
                s_t = moe_model_pass(s, X, Y, trial, ps, *A2, *g2, nt);
                (*evals)++;
                if (R_FINITE(s_t)) {
                    red = refit_linear(*A2, *g2, P, lin, nL, trial, lower, upper, &rw, dL);
                    s_star = s_t - red;
                }
            }
            double actual = *sse - s_star;
            if (info == 0 && R_FINITE(s_star) && actual > 0.0 && pred > 0.0) {
                double rho = actual / pred;
                lm_accepted(rho, lambda, &nu);
                double step = 0.0, size = enorm(theta, P), sse_old = *sse;
                for (int a = 0; a < nN; a++) step += dN[a] * dN[a];
                for (int a = 0; a < nL; a++) step += dL[a] * dL[a];
                step = sqrt(step);
                if (red > 0.0) {
                    /* the optimum psi': one more pass for J'J there */
                    memcpy(point, trial, sizeof(double) * P);
                    apply_linear(trial, dL, lin, nL, lower, upper, point);
                    double s_new = moe_model_pass(s, X, Y, point, ps, *A, *g, nt);
                    (*evals)++;
                    if (R_FINITE(s_new) && s_new <= s_t) {
                        memcpy(theta, point, sizeof(double) * P);
                        *sse = s_new;
                    } else {
                        /* rounding undid the refit: keep (beta', psi) */
                        memcpy(theta, trial, sizeof(double) * P);
                        swap_ptr(A, A2);
                        swap_ptr(g, g2);
                        *sse = s_t;
                    }
                } else {
                    memcpy(theta, trial, sizeof(double) * P);
                    swap_ptr(A, A2);
                    swap_ptr(g, g2);
                    *sse = s_t;
                }
                (*iter)++;
                trace_push(tr, *sse);
                if (ctl->trace && ctl->print)
                    ctl->print("iter %4d  sse %.10g  lambda %.3g  rho %.3f  (projected)\n", *iter, *sse,
                               *lambda, rho);
                int code = lm_stop_code(ctl, actual, pred, sse_old, *sse, step, size, tr, *iter, n, P);
                if (code) return code;
                break;
            }
            if (ctl->trace && ctl->print)
                ctl->print("          rejected: sse %.10g  lambda %.3g  (projected)\n", s_star, *lambda);
            if (lm_rejected(lambda, &nu)) return MOE_LSQ_STALL;
            check_interrupt();
        }
    }
}
