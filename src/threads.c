/* Thread control for the BLAS that R is linked against. OpenBLAS reads its
 * thread count at load time, so processes started by a parallel study would
 * otherwise each use every core; OpenBLAS exposes setters at run time, found
 * here by symbol lookup so that the package still works with any BLAS. */
#include "adapt.h"
#ifdef __unix__
#include <dlfcn.h>
#endif
#ifndef _WIN32
#include <unistd.h>
#endif
#include <string.h>

/* ---- OpenMP after fork ----
 * GNU OpenMP is not fork-safe: a child forked (mclapply, plan(multicore))
 * from a process whose OpenMP thread pool exists deadlocks in its first
 * parallel region. A child is recognised by its process id, recorded when the
 * package is loaded (no pthread_atfork handler, which would dangle if the
 * library were unloaded), and runs single-threaded. Results do not depend on
 * the thread count, so only the speed changes. */
#ifndef _WIN32
static pid_t main_pid = 0;
#endif

void moe_threads_init(void)
{
#ifndef _WIN32
    main_pid = getpid();
#endif
}

int moe_threads_cap(int n)
{
#ifndef _WIN32
    if (n > 1 && main_pid != 0 && getpid() != main_pid) return 1;
#endif
    return n;
}

typedef void (*set_threads_fn)(int);
typedef int (*get_threads_fn)(void);

/* The symbols are looked up once; the lookup runs on R's main thread. */
static int blas_lookup(get_threads_fn *get, set_threads_fn *set)
{
    static int done = 0, found = 0;
    static get_threads_fn get_c = NULL;
    static set_threads_fn set_c = NULL;
    if (!done) {
#ifdef __unix__
        /* ISO C has no cast from object to function pointer; copying the bits
         * is what POSIX guarantees to work for dlsym() results */
        void *g = dlsym(RTLD_DEFAULT, "openblas_get_num_threads");
        void *s = dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
        if (g != NULL && s != NULL) {
            memcpy(&get_c, &g, sizeof(get_c));
            memcpy(&set_c, &s, sizeof(set_c));
            found = 1;
        }
#endif
        done = 1;
    }
    *get = get_c;
    *set = set_c;
    return found;
}

int moe_blas_threads_set(int n)
{
    get_threads_fn get;
    set_threads_fn set;
    if (!blas_lookup(&get, &set)) return 0;
    int prev = get();
    if (n >= 1 && n != prev) set(n);
    return prev;
}

/* Returns the previous OpenBLAS thread count (NA when the BLAS is not
 * OpenBLAS); sets it to n when n >= 1. */
SEXP C_blas_threads(SEXP n)
{
    get_threads_fn get;
    set_threads_fn set;
    int want = Rf_asInteger(n);
    if (!blas_lookup(&get, &set)) return Rf_ScalarInteger(NA_INTEGER);
    int prev = get();
    if (want != NA_INTEGER && want >= 1) set(want > MOE_MAX_THREADS ? MOE_MAX_THREADS : want);
    return Rf_ScalarInteger(prev);
}
