/* Gates: sigmoid, softmax (with the row maximum subtracted) and normalized
 * sigmoid, together with d f / d z, the derivative of the model value with
 * respect to each gate's input z_l = beta1_l' x + beta0_l. */
#include "adapt.h"
#include <math.h>

/* Divide each row of g (m x k, leading dimension ld) by its sum; tot is
 * scratch for m doubles. */
MOE_CLONES
static void normalise_rows(double *g, int ld, int m, int k, double *tot)
{
    {
        const double *restrict g0 = g;
        MOE_SIMD
        for (int r = 0; r < m; r++) tot[r] = g0[r];
    }
    for (int l = 1; l < k; l++) {
        const double *restrict gl = g + (size_t) l * ld;
        MOE_SIMD
        for (int r = 0; r < m; r++) tot[r] += gl[r];
    }
    for (int l = 0; l < k; l++) {
        double *restrict gl = g + (size_t) l * ld;
        MOE_SIMD
        for (int r = 0; r < m; r++) gl[r] /= tot[r];
    }
}

/* mx = the largest of the k gate inputs of each of m rows. */
MOE_CLONES
static void row_max(const double *z, int ld, int m, int k, double *mx)
{
    {
        MOE_SIMD
        for (int r = 0; r < m; r++) mx[r] = z[r];
    }
    for (int l = 1; l < k; l++) {
        const double *restrict zl = z + (size_t) l * ld;
        MOE_SIMD
        for (int r = 0; r < m; r++) mx[r] = zl[r] > mx[r] ? zl[r] : mx[r];
    }
}

/* Every loop below runs over rows with k (the number of experts) outside, so
 * that it vectorises; per row, sums over experts are taken in expert order. */
MOE_CLONES
void moe_gate_eval(int gating, const double *z, int ld, int m, int k, double *g,
                   double *work)
{
    double *restrict mx = work;
    switch (gating) {
    case MOE_GATE_SIGMOID:
        for (int l = 0; l < k; l++) {
            const double *restrict zl = z + (size_t) l * ld;
            double *restrict gl = g + (size_t) l * ld;
            MOE_SIMD
            for (int r = 0; r < m; r++) gl[r] = moe_sigmoid(zl[r]);
        }
        break;
    case MOE_GATE_SOFTMAX:
        /* exp(z_l - max_j z_j) <= 1: no overflow, and the largest term is 1 */
        row_max(z, ld, m, k, mx);
        for (int l = 0; l < k; l++) {
            const double *restrict zl = z + (size_t) l * ld;
            double *restrict gl = g + (size_t) l * ld;
            MOE_SIMD
            for (int r = 0; r < m; r++) gl[r] = moe_exp_nonpos(zl[r] - mx[r]);
        }
        normalise_rows(g, ld, m, k, mx);
        break;
    case MOE_GATE_NSIGMOID:
        /* w_l = sigma(z_l) e^{-c} with c = min(max_l z_l, 0): the ratios are
         * those of the sigmoids, the largest term is at least 1/2, so the sum
         * never underflows (for z << 0 the gate tends to the softmax, as it
         * should). With c <= 0 and c >= z_l whenever z_l < 0,
         *   w_l = e^{min(z_l, 0) - c} / (1 + e^{-|z_l|}),
         * and both exponents are <= 0. */
        row_max(z, ld, m, k, mx);
        {
            MOE_SIMD
            for (int r = 0; r < m; r++) mx[r] = mx[r] > 0 ? 0.0 : mx[r];
        }
        for (int l = 0; l < k; l++) {
            const double *restrict zl = z + (size_t) l * ld;
            double *restrict gl = g + (size_t) l * ld;
            MOE_SIMD
            for (int r = 0; r < m; r++) {
                double zneg = zl[r] < 0 ? zl[r] : 0.0;
                gl[r] = moe_exp_nonpos(zneg - mx[r]) / (1.0 + moe_exp_nonpos(-fabs(zl[r])));
            }
        }
        normalise_rows(g, ld, m, k, mx);
        break;
    }
}

MOE_CLONES
void moe_gate_score(int gating, const double *z, const double *g,
                    const double *h, const double *f, int ld, int m, int k,
                    double *du)
{
    for (int l = 0; l < k; l++) {
        const double *restrict zl = z + (size_t) l * ld, *restrict gl = g + (size_t) l * ld;
        const double *restrict hl = h + (size_t) l * ld;
        double *restrict dl = du + (size_t) l * ld;
        switch (gating) {
        case MOE_GATE_SIGMOID:
            /* d f / d z_l = s_l (1 - s_l) h_l with s_l = g_l. 1 - g_l loses
             * relative precision as g_l -> 1, but only by an absolute 1e-16:
             * harmless in a derivative, and it saves recomputing every
             * exponential. */
            MOE_SIMD
            for (int r = 0; r < m; r++) dl[r] = gl[r] * (1.0 - gl[r]) * hl[r];
            break;
        case MOE_GATE_SOFTMAX:
            /* d f / d z_l = pi_l (h_l - f) */
            MOE_SIMD
            for (int r = 0; r < m; r++) dl[r] = gl[r] * (hl[r] - f[r]);
            break;
        case MOE_GATE_NSIGMOID:
            /* g_i = s_i / S with S = sum_j s_j, so
             * d f / d z_l = s_l (1 - s_l) (h_l - f) / S = g_l (1 - s_l) (h_l - f). */
            MOE_SIMD
            for (int r = 0; r < m; r++) {
                double s, om;
                moe_sigmoid_pair(zl[r], &s, &om);
                dl[r] = gl[r] * om * (hl[r] - f[r]);
            }
            break;
        }
    }
}

/* .Call adapter: gates of an n x k matrix of gate inputs. */
SEXP C_gate_eval(SEXP gating, SEXP z)
{
    if (!Rf_isReal(z) || !Rf_isMatrix(z)) Rf_error("internal: z must be a double matrix");
    int m = Rf_nrows(z), k = Rf_ncols(z);
    if (k < 1) Rf_error("internal: z must have at least one column");
    int gt = Rf_asInteger(gating);
    if (gt < MOE_GATE_SIGMOID || gt > MOE_GATE_NSIGMOID) Rf_error("internal: bad gating code");
    SEXP g = PROTECT(Rf_allocMatrix(REALSXP, m, k));
    double *work = (double *) R_alloc(m > 0 ? m : 1, sizeof(double));
    moe_gate_eval(gt, REAL(z), m, m, k, REAL(g), work);
    UNPROTECT(1);
    return g;
}
