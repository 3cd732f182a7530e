/* Helpers shared by the .Call adapters: checks of the structure vector, of
 * the data and of counts, and building named results. */
#include "adapt.h"

moe_spec moe_spec_from_sexp(SEXP spec, SEXP theta, SEXP x)
{
    if (!Rf_isInteger(spec) || XLENGTH(spec) != 6) Rf_error("internal: spec must be an integer vector of length 6");
    if (!Rf_isReal(theta)) Rf_error("internal: theta must be double");
    if (!Rf_isReal(x) || !Rf_isMatrix(x)) Rf_error("internal: x must be a double matrix");
    const int *sp = INTEGER(spec);
    moe_spec s = {sp[0], sp[1], sp[2], sp[3], sp[4], 0, sp[5]};
    if (s.outw != 0 && s.outw != 1) Rf_error("internal: bad output-weight flag");
    /* k and d bounded so that theta's length cannot overflow an int */
    if (s.k < 1 || s.d < 1 || s.k > 100000 || s.d > 100000 || (double) s.k * (s.d + 1) * 2 > 1e9)
        Rf_error("internal: bad k or d");
    if (s.gating < MOE_GATE_SIGMOID || s.gating > MOE_GATE_NSIGMOID) Rf_error("internal: bad gating code");
    moe_check_expert(s.expert, s.degree);
    s.npar = moe_theta_len(&s);
    if (XLENGTH(theta) != s.npar) Rf_error("internal: theta has length %d, expected %d", (int) XLENGTH(theta), s.npar);
    if (Rf_ncols(x) != s.d) Rf_error("internal: x has %d columns, expected %d", Rf_ncols(x), s.d);
    return s;
}

void moe_check_response(SEXP y, int n)
{
    if (!Rf_isReal(y) || XLENGTH(y) != n) Rf_error("internal: y must be double of length nrow(x)");
}

void moe_check_real(SEXP v, R_xlen_t len, const char *what)
{
    if (!Rf_isReal(v) || XLENGTH(v) != len)
        Rf_error("internal: %s must be a double vector of length %lld", what, (long long) len);
}

void moe_check_expert(int expert, int degree)
{
    if (expert < MOE_EXPERT_LINEAR || expert > MOE_EXPERT_CONSTANT) Rf_error("internal: bad expert code");
    if (expert == MOE_EXPERT_POLY && (degree < 1 || degree == NA_INTEGER)) Rf_error("internal: bad degree");
}

int moe_nthreads(SEXP nthreads)
{
    int nt = Rf_asInteger(nthreads);
    if (nt == NA_INTEGER || nt < 1) return 1;
    return moe_threads_cap(nt > MOE_MAX_THREADS ? MOE_MAX_THREADS : nt);
}

SEXP moe_named_list(int n, const char **names, const SEXP *elts)
{
    SEXP out = PROTECT(Rf_allocVector(VECSXP, n));
    SEXP nms = PROTECT(Rf_allocVector(STRSXP, n));
    for (int i = 0; i < n; i++) {
        SET_VECTOR_ELT(out, i, elts[i]);
        SET_STRING_ELT(nms, i, Rf_mkChar(names[i]));
    }
    Rf_setAttrib(out, R_NamesSymbol, nms);
    UNPROTECT(2);
    return out;
}

/* Index (1-based) of the first non-finite value of a double vector, 0 if none;
 * lets R validate large inputs without allocating a logical copy. */
SEXP C_first_nonfinite(SEXP v)
{
    if (!Rf_isReal(v)) Rf_error("internal: v must be double");
    R_xlen_t len = XLENGTH(v);
    const double *p = REAL(v);
    for (R_xlen_t i = 0; i < len; i++)
        if (!R_FINITE(p[i])) return Rf_ScalarReal((double) (i + 1));
    return Rf_ScalarReal(0.0);
}
