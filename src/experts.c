/* Experts h(t) with t = a' x + b, and their derivatives d h / d t. */
#include "adapt.h"
#include <math.h>
#include <string.h>

#define MOE_SQRT1_2 0.70710678118654752440
#define MOE_1_SQRT_2PI 0.39894228040143267794

MOE_CLONES
void moe_expert_eval(int expert, int degree, const double *t, R_xlen_t len,
                     double *h, double *dh)
{
    R_xlen_t i;
    switch (expert) {
    case MOE_EXPERT_LINEAR:
    case MOE_EXPERT_CONSTANT:
        /* constant: the caller passes t = b, so h = t and d h / d b = 1 */
        memcpy(h, t, sizeof(double) * len);
        if (dh) {
            MOE_SIMD
            for (i = 0; i < len; i++) dh[i] = 1.0;
        }
        break;
    case MOE_EXPERT_RELU:
        /* derivative 0 at t = 0; branch-free, because the
         * signs of t are data and mispredicted branches would cost more than
         * the arithmetic */
        MOE_SIMD
        for (i = 0; i < len; i++) h[i] = t[i] > 0 ? t[i] : 0.0;
        if (dh) {
            MOE_SIMD
            for (i = 0; i < len; i++) dh[i] = t[i] > 0 ? 1.0 : 0.0;
        }
        break;
    case MOE_EXPERT_GELU:
        /* exact GELU t Phi(t), Phi from erfc so that the lower tail keeps precision */
        for (i = 0; i < len; i++) {
            double Phi = 0.5 * erfc(-t[i] * MOE_SQRT1_2);
            h[i] = t[i] * Phi;
            if (dh) dh[i] = Phi + t[i] * MOE_1_SQRT_2PI * exp(-0.5 * t[i] * t[i]);
        }
        break;
    case MOE_EXPERT_SIGMOID:
        if (dh) {
            MOE_SIMD
            for (i = 0; i < len; i++) {
                double s, om;
                moe_sigmoid_pair(t[i], &s, &om);
                h[i] = s;
                dh[i] = s * om;
            }
        } else {
            MOE_SIMD
            for (i = 0; i < len; i++) h[i] = moe_sigmoid(t[i]);
        }
        break;
    case MOE_EXPERT_TANH:
        for (i = 0; i < len; i++) {
            double th = tanh(t[i]);
            h[i] = th;
            if (dh) dh[i] = 1.0 - th * th;
        }
        break;
    case MOE_EXPERT_POLY:
        /* t^(degree - 1) by repeated products, one vectorised sweep per power */
        {
            double *restrict q = dh ? dh : h;
            MOE_SIMD
            for (i = 0; i < len; i++) q[i] = 1.0;
            for (int j = 1; j < degree; j++) {
                MOE_SIMD
                for (i = 0; i < len; i++) q[i] *= t[i];
            }
            if (dh) {
                const double p = (double) degree;
                MOE_SIMD
                for (i = 0; i < len; i++) {
                    h[i] = q[i] * t[i];
                    q[i] *= p;
                }
            } else {
                MOE_SIMD
                for (i = 0; i < len; i++) q[i] *= t[i];
            }
        }
        break;
    }
}

/* .Call adapter: expert values (deriv = FALSE) or derivatives (deriv = TRUE)
 * at a numeric vector or matrix t; the result has the shape of t. */
SEXP C_expert_eval(SEXP expert, SEXP degree, SEXP t, SEXP deriv)
{
    if (!Rf_isReal(t)) Rf_error("internal: t must be double");
    int ex = Rf_asInteger(expert), p = Rf_asInteger(degree), dv = Rf_asLogical(deriv);
    moe_check_expert(ex, p);
    R_xlen_t len = XLENGTH(t);
    SEXP out = PROTECT(Rf_allocVector(REALSXP, len));
    double *tmp = (double *) R_alloc(len > 0 ? len : 1, sizeof(double));
    if (dv) moe_expert_eval(ex, p, REAL(t), len, tmp, REAL(out));
    else moe_expert_eval(ex, p, REAL(t), len, REAL(out), NULL);
    SEXP dim = Rf_getAttrib(t, R_DimSymbol);
    if (!Rf_isNull(dim)) Rf_setAttrib(out, R_DimSymbol, dim);
    UNPROTECT(1);
    return out;
}
