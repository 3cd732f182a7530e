/* The one registration table of sigmoe's .Call entry points. */
#include "adapt.h"
#include <R_ext/Rdynload.h>

SEXP C_gate_eval(SEXP gating, SEXP z);
SEXP C_expert_eval(SEXP expert, SEXP degree, SEXP t, SEXP deriv);
SEXP C_model_eval(SEXP spec, SEXP theta, SEXP x, SEXP components, SEXP nthreads);
SEXP C_model_jacobian(SEXP spec, SEXP theta, SEXP x, SEXP nthreads);
SEXP C_model_crossprod(SEXP spec, SEXP theta, SEXP x, SEXP y, SEXP nthreads);
SEXP C_model_sse(SEXP spec, SEXP theta, SEXP x, SEXP y, SEXP nthreads);
SEXP C_model_block_rows(SEXP n, SEXP npar);
SEXP C_model_dir2(SEXP spec, SEXP theta, SEXP x, SEXP v, SEXP h, SEXP sqrt_weights,
                  SEXP nthreads);
SEXP C_first_nonfinite(SEXP v);
SEXP C_lsq_fit(SEXP spec, SEXP theta0, SEXP x, SEXP y, SEXP control, SEXP lower, SEXP upper,
               SEXP sqrt_weights);
SEXP C_blas_threads(SEXP n);
SEXP C_col_spread(SEXP x, SEXP mu);
SEXP C_threads_info(SEXP asked, SEXP n, SEXP npar);
SEXP C_threads_rule(SEXP asked, SEXP procs, SEXP limit, SEXP others, SEXP forked, SEXP n,
                    SEXP rows);
SEXP C_threads_tune(SEXP scale, SEXP load);
/* losses.c */
SEXP C_losses_voronoi(SEXP w, SEXP beta0, SEXP loc, SEXP wt, SEXP beta0t, SEXP loct,
                      SEXP d, SEXP use_c, SEXP r);
SEXP C_losses_expert(SEXP expert, SEXP degree, SEXP x, SEXP A, SEXP b, SEXP At, SEXP bt);
SEXP C_losses_study(SEXP fits, SEXP targets, SEXP x, SEXP f_true, SEXP which);

static const R_CallMethodDef CallEntries[] = {
    {"C_gate_eval", (DL_FUNC) &C_gate_eval, 2},
    {"C_expert_eval", (DL_FUNC) &C_expert_eval, 4},
    {"C_model_eval", (DL_FUNC) &C_model_eval, 5},
    {"C_model_jacobian", (DL_FUNC) &C_model_jacobian, 4},
    {"C_model_crossprod", (DL_FUNC) &C_model_crossprod, 5},
    {"C_model_sse", (DL_FUNC) &C_model_sse, 5},
    {"C_model_block_rows", (DL_FUNC) &C_model_block_rows, 2},
    {"C_model_dir2", (DL_FUNC) &C_model_dir2, 7},
    {"C_first_nonfinite", (DL_FUNC) &C_first_nonfinite, 1},
    {"C_lsq_fit", (DL_FUNC) &C_lsq_fit, 8},
    {"C_blas_threads", (DL_FUNC) &C_blas_threads, 1},
    {"C_col_spread", (DL_FUNC) &C_col_spread, 2},
    {"C_threads_info", (DL_FUNC) &C_threads_info, 3},
    {"C_threads_rule", (DL_FUNC) &C_threads_rule, 7},
    {"C_threads_tune", (DL_FUNC) &C_threads_tune, 2},
    {"C_losses_voronoi", (DL_FUNC) &C_losses_voronoi, 9},
    {"C_losses_expert", (DL_FUNC) &C_losses_expert, 7},
    {"C_losses_study", (DL_FUNC) &C_losses_study, 5},
    {NULL, NULL, 0}
};

void R_init_sigmoe(DllInfo *dll)
{
    R_registerRoutines(dll, NULL, CallEntries, NULL, NULL);
    R_useDynamicSymbols(dll, FALSE);
    R_forceSymbols(dll, TRUE);
    moe_threads_init();
}

void R_unload_sigmoe(DllInfo *dll)
{
    (void) dll;
    moe_losses_release();
}
