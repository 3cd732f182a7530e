/* Gates: sigmoid, softmax (with the row maximum subtracted) and normalized
 * sigmoid, together with d f / d z, the derivative of the model value with
 * respect to each gate's input z_l = beta1_l' x + beta0_l. */
#include "sigmoe.h"
#include <math.h>

void moe_sigmoid2(double z, double *s, double *one_minus_s)
{
    /* exp() only ever sees a non-positive argument, so neither branch overflows
     * and 1 - s keeps its relative precision when s is close to 1. */
    if (z >= 0) {
        double e = exp(-z);
        *s = 1.0 / (1.0 + e);
        *one_minus_s = e / (1.0 + e);
    } else {
        double e = exp(z);
        *s = e / (1.0 + e);
        *one_minus_s = 1.0 / (1.0 + e);
    }
}

void moe_gate_eval(int gating, const double *z, int ld, int m, int k, double *g)
{
    switch (gating) {
    case MOE_GATE_SIGMOID:
        for (int l = 0; l < k; l++) {
            const double *restrict zl = z + (size_t) l * ld;
            double *restrict gl = g + (size_t) l * ld;
            for (int r = 0; r < m; r++) {
                /* exp of -|z| only: never overflows */
                double e = exp(-fabs(zl[r]));
                gl[r] = zl[r] >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
            }
        }
        break;
    case MOE_GATE_SOFTMAX:
        for (int r = 0; r < m; r++) {
            double zmax = z[r];
            for (int l = 1; l < k; l++)
                if (z[r + (size_t) l * ld] > zmax) zmax = z[r + (size_t) l * ld];
            double tot = 0.0;
            for (int l = 0; l < k; l++) {
                double e = exp(z[r + (size_t) l * ld] - zmax);
                g[r + (size_t) l * ld] = e;
                tot += e;
            }
            for (int l = 0; l < k; l++) g[r + (size_t) l * ld] /= tot;
        }
        break;
    case MOE_GATE_NSIGMOID:
        /* sigma(z_l) e^{-c} with c = min(max_l z_l, 0): the ratios are those of
         * the sigmoids, the largest term is at least 1/2, so the sum never
         * underflows (for z << 0 the gate tends to the softmax, as it should). */
        for (int r = 0; r < m; r++) {
            double c = z[r];
            for (int l = 1; l < k; l++)
                if (z[r + (size_t) l * ld] > c) c = z[r + (size_t) l * ld];
            if (c > 0) c = 0;
            double tot = 0.0;
            for (int l = 0; l < k; l++) {
                double zl = z[r + (size_t) l * ld], wl;
                if (zl < 0) wl = exp(zl - c) / (1.0 + exp(zl));
                else wl = exp(-c) / (1.0 + exp(-zl));
                g[r + (size_t) l * ld] = wl;
                tot += wl;
            }
            for (int l = 0; l < k; l++) g[r + (size_t) l * ld] /= tot;
        }
        break;
    }
}

void moe_gate_score(int gating, const double *z, const double *g,
                    const double *h, const double *f, int ld, int m, int k,
                    double *du)
{
    double s, om;
    switch (gating) {
    case MOE_GATE_SIGMOID:
        /* d f / d z_l = s_l (1 - s_l) h_l with s_l = g_l. 1 - g_l loses relative
         * precision as g_l -> 1, but only by an absolute 1e-16: harmless in a
         * derivative, and it saves recomputing every exponential. */
        for (int l = 0; l < k; l++) {
            const double *restrict gl = g + (size_t) l * ld, *restrict hl = h + (size_t) l * ld;
            double *restrict dl = du + (size_t) l * ld;
            MOE_SIMD
            for (int r = 0; r < m; r++) dl[r] = gl[r] * (1.0 - gl[r]) * hl[r];
        }
        break;
    case MOE_GATE_SOFTMAX:
        /* d f / d z_l = pi_l (h_l - f) */
        for (int l = 0; l < k; l++)
            for (int r = 0; r < m; r++) {
                size_t ix = r + (size_t) l * ld;
                du[ix] = g[ix] * (h[ix] - f[r]);
            }
        break;
    case MOE_GATE_NSIGMOID:
        /* g_i = s_i / S with S = sum_j s_j, so
         * d f / d z_l = s_l (1 - s_l) (h_l - f) / S = g_l (1 - s_l) (h_l - f). */
        for (int l = 0; l < k; l++)
            for (int r = 0; r < m; r++) {
                size_t ix = r + (size_t) l * ld;
                moe_sigmoid2(z[ix], &s, &om);
                du[ix] = g[ix] * om * (h[ix] - f[r]);
            }
        break;
    }
}

/* .Call adapter: gates of an n x k matrix of gate inputs. */
SEXP C_gate_eval(SEXP gating, SEXP z)
{
    if (!Rf_isReal(z) || !Rf_isMatrix(z)) Rf_error("internal: z must be a double matrix");
    int m = Rf_nrows(z), k = Rf_ncols(z);
    int gt = Rf_asInteger(gating);
    if (gt < MOE_GATE_SIGMOID || gt > MOE_GATE_NSIGMOID) Rf_error("internal: bad gating code");
    SEXP g = PROTECT(Rf_allocMatrix(REALSXP, m, k));
    moe_gate_eval(gt, REAL(z), m, m, k, REAL(g));
    UNPROTECT(1);
    return g;
}
