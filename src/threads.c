/* Thread control for the BLAS that R is linked against. OpenBLAS reads its
 * thread count at load time, so processes started by a parallel study would
 * otherwise each use every core; OpenBLAS exposes setters at run time, found
 * here by symbol lookup so that the package still works with any BLAS. */
#include "sigmoe.h"
#ifdef __unix__
#include <dlfcn.h>
#endif

typedef void (*set_threads_fn)(int);
typedef int (*get_threads_fn)(void);

/* Returns the previous OpenBLAS thread count (NA when the BLAS is not
 * OpenBLAS); sets it to n when n >= 1. */
SEXP C_blas_threads(SEXP n)
{
    int prev = NA_INTEGER, want = Rf_asInteger(n);
#ifdef __unix__
    get_threads_fn get = (get_threads_fn) dlsym(RTLD_DEFAULT, "openblas_get_num_threads");
    set_threads_fn set = (set_threads_fn) dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
    if (get && set) {
        prev = get();
        if (want != NA_INTEGER && want >= 1) set(want);
    }
#endif
    return Rf_ScalarInteger(prev);
}
