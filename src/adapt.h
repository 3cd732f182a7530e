/* sigmoe: helpers of the .Call adapters (these call the R API).
 *
 * An adapter never trusts that R validated its arguments: every type, length
 * and range a kernel relies on is checked here again, so that a hand-made
 * object can give an error but never crash R. */
#ifndef SIGMOE_ADAPT_H
#define SIGMOE_ADAPT_H

#include "moe.h"

/* The model structure from c(k, d, gating, expert, degree, outw), checked against
 * theta (its length) and x (a double matrix with d columns). */
moe_spec moe_spec_from_sexp(SEXP spec, SEXP theta, SEXP x);
/* y: a double vector of length n. */
void moe_check_response(SEXP y, int n);
/* A double vector of length len (any dimensions). */
void moe_check_real(SEXP v, R_xlen_t len, const char *what);
/* An expert code and polynomial degree. */
void moe_check_expert(int expert, int degree);
/* A thread count: a whole number in [1, MOE_MAX_THREADS]; NA or below 1 means 1. */
int moe_nthreads(SEXP nthreads);
/* A list of n elements (already protected by the caller or fresh) with names. */
SEXP moe_named_list(int n, const char **names, const SEXP *elts);

/* The largest thread count anything accepts. */
#define MOE_MAX_THREADS 1024

#endif
