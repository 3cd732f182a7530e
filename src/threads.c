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
#include <math.h>
#include <stdio.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__linux__)
#include <time.h>
#include <sys/resource.h>
#endif

/* ---- How many OpenMP threads a call uses ----
 * Threads never make a call slower, and never take more cores than are free
 * (the rule of data.table's getDTthreads(), with the load of the machine as
 * one more bound). A call uses the fewest of
 *   - the threads asked for (moe_control(threads = ));
 *   - the processors OpenMP reports (omp_get_num_procs(): the cores this
 *     process may run on) and OpenMP's thread limit (OMP_THREAD_LIMIT);
 *   - the free cores: the processors minus the other processes' share of the
 *     1-minute load average (/proc/loadavg less this process's own CPU use,
 *     averaged the same way), but no more than the processes runnable now
 *     (/proc/stat, less the caller), rounded, at least 1; read at most once
 *     a second, and taken as 0 where there is no /proc. On a loaded machine a
 *     second thread waits for a time slice at every barrier, which made fits
 *     at n <= 1e4 11 to 42 times slower than one thread;
 *   - floor(n / R) and at least 1, where R is the break-even rows per thread
 *     of the work at hand (moe_threads_rows()): with fewer rows, waking a
 *     second thread costs more than it saves (measured in bench/threads.R);
 *   - 1 in a process forked from R (below).
 * The first four hold whatever the work (moe_threads_cap(), in the
 * adapters, on R's main thread); the rows are known only to the kernels
 * (moe_threads_rows(), in model.c). Results do not depend on the thread
 * count, so the rule only changes the speed. */

/* ---- OpenMP after fork ----
 * GNU OpenMP is not fork-safe: a child forked (mclapply, plan(multicore))
 * from a process whose OpenMP thread pool exists deadlocks in its first
 * parallel region. A child is recognised by its process id, recorded when the
 * package is loaded (no pthread_atfork handler, which would dangle if the
 * library were unloaded), and runs single-threaded. */
#ifndef _WIN32
static pid_t main_pid = 0;
#endif

void moe_threads_init(void)
{
#ifndef _WIN32
    main_pid = getpid();
#endif
}

static int forked_child(void)
{
#ifndef _WIN32
    return main_pid != 0 && getpid() != main_pid;
#else
    return 0;
#endif
}

/* Break-even rows per thread (bench/threads.R; the constants and how they
 * were measured are in moe.h): the pass of the fit (model, Jacobian, Gram matrix)
 * and the model's values alone. A thread pays for itself from a fixed amount
 * of work, and a pass costs about P^2 per row, so R falls as the parameters
 * grow. rows_scale (1 by default; 0 turns the bound off) lets the benchmark
 * and the tests run without it. */
static double rows_scale = 1.0;
static int use_load = 1;

int moe_threads_break_even(int kind, int npar)
{
    double P = npar < 1 ? 1.0 : (double) npar, r;
    if (kind == MOE_WORK_PASS) r = MOE_PASS_ROWS_12 * pow(12.0 / P, MOE_PASS_ROWS_EXP);
    else r = MOE_EVAL_ROWS_12 * pow(12.0 / P, MOE_EVAL_ROWS_EXP);
    r *= rows_scale;
    if (r < 0.0) r = 0.0;
    if (r > 1e9) r = 1e9;
    return (int) (r + 0.5);
}

int moe_threads_rule(int asked, int procs, int limit, double others, int forked, int n,
                     int rows)
{
    if (forked || asked <= 1) return 1;
    int t = asked;
    if (procs >= 1 && t > procs) t = procs;
    if (limit >= 1 && t > limit) t = limit;
    if (procs >= 1 && others > 0.0) {
        int busy = (int) floor(others + 0.5);
        int free = procs - busy < 1 ? 1 : procs - busy;
        if (t > free) t = free;
    }
    if (rows > 0 && n / rows < t) t = n / rows;
    return t < 1 ? 1 : t;
}

int moe_threads_rows(int nthreads, int n, int npar, int kind)
{
    if (nthreads <= 1) return 1;
    return moe_threads_rule(nthreads, 0, 0, 0.0, 0, n, moe_threads_break_even(kind, npar));
}

/* omp_get_num_procs() asks the kernel for the affinity mask at every call
 * (microseconds, as much as a small evaluation): read at most once a second.
 * Main thread only. */
/* A monotonic clock in seconds, or -1 where there is none. */
static double wall_seconds(void)
{
#if defined(__linux__)
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return -1.0;
    return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
#else
    return -1.0;
#endif
}

static int omp_procs(void)
{
#ifdef _OPENMP
    static int procs = 0;
    static double last = -1.0;
    double now = wall_seconds();
    if (procs < 1 || now < 0.0 || now - last >= 1.0) {
        procs = omp_get_num_procs();
        last = now;
    }
    return procs;
#else
    return 1;
#endif
}

static int omp_limit(void)
{
#ifdef _OPENMP
    return omp_get_thread_limit();
#else
    return 1;
#endif
}

/* The other processes' share of the 1-minute load average: the load less
 * this process's own CPU use (all its threads), averaged with the kernel's
 * one-minute time constant, so that a fit that keeps two cores busy does not
 * count itself as load. Refreshed at most once a second; 0 where /proc or a
 * clock is missing. Main thread only. */
static double load_others(void)
{
#if defined(__linux__)
    static double last_wall = -1.0, last_cpu = 0.0, own = 0.0, others = 0.0;
    double wall = wall_seconds();
    if (wall < 0.0) return 0.0;
    if (last_wall >= 0.0 && wall - last_wall < 1.0) return others;
    struct rusage ru;
    double cpu = last_cpu;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        cpu = (double) ru.ru_utime.tv_sec + 1e-6 * (double) ru.ru_utime.tv_usec +
              (double) ru.ru_stime.tv_sec + 1e-6 * (double) ru.ru_stime.tv_usec;
    if (last_wall >= 0.0) {
        double dt = wall - last_wall, keep = exp(-dt / 60.0);
        own = keep * own + (1.0 - keep) * (cpu - last_cpu) / dt;
    }
    last_wall = wall;
    last_cpu = cpu;
    double load = 0.0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f != NULL) {
        if (fscanf(f, "%lf", &load) != 1) load = 0.0;
        fclose(f);
    }
    others = load - own > 0.0 ? load - own : 0.0;
    /* The load average lags by a minute: a job that has just ended still
     * counts. The processes runnable now (procs_running of /proc/stat, less
     * the calling thread) bound it from above, so that cores freed a moment
     * ago are used; a process that keeps a core busy is runnable whenever
     * it is not waiting, so it is still seen. */
    double running = -1.0;
    f = fopen("/proc/stat", "r");
    if (f != NULL) {
        char line[256];
        while (fgets(line, sizeof line, f) != NULL) {
            int r;
            if (sscanf(line, "procs_running %d", &r) == 1) {
                running = r - 1 > 0 ? (double) (r - 1) : 0.0;
                break;
            }
        }
        fclose(f);
    }
    if (running >= 0.0 && running < others) others = running;
    return others;
#else
    return 0.0;
#endif
}

int moe_threads_cap(int n)
{
    if (n <= 1) return 1;
    if (forked_child()) return 1;
    return moe_threads_rule(n, omp_procs(), omp_limit(), use_load ? load_others() : 0.0, 0,
                            0, 0);
}

/* What the rule decides, for ?moe_threads: asked, processors, thread limit,
 * the other processes' load, free cores, threads available, and for n rows
 * of npar parameters the break-even rows and threads of a pass and of an
 * evaluation. */
SEXP C_threads_info(SEXP asked, SEXP n, SEXP npar)
{
    int a = Rf_asInteger(asked), nn = Rf_asInteger(n), P = Rf_asInteger(npar);
    if (a == NA_INTEGER || a < 1) a = 1;
    if (a > MOE_MAX_THREADS) a = MOE_MAX_THREADS;
    if (nn == NA_INTEGER || nn < 0) nn = 0;
    if (P == NA_INTEGER || P < 1) P = 1;
    int procs = omp_procs(), limit = omp_limit(), forked = forked_child();
    double others = use_load ? load_others() : 0.0;
    int busy = (int) floor(others + 0.5);
    int free = procs - busy < 1 ? 1 : procs - busy;
    int avail = forked ? 1 : moe_threads_rule(a, procs, limit, others, 0, 0, 0);
    int rp = moe_threads_break_even(MOE_WORK_PASS, P), re = moe_threads_break_even(MOE_WORK_EVAL, P);
    SEXP out = PROTECT(Rf_allocVector(REALSXP, 11));
    double *v = REAL(out);
    v[0] = a;
    v[1] = procs;
    v[2] = limit;
    v[3] = others;
    v[4] = free;
    v[5] = forked;
    v[6] = avail;
    v[7] = rp;
    v[8] = moe_threads_rows(avail, nn, P, MOE_WORK_PASS);
    v[9] = re;
    v[10] = moe_threads_rows(avail, nn, P, MOE_WORK_EVAL);
    UNPROTECT(1);
    return out;
}

/* The rule as a pure function of its inputs, for the tests. */
SEXP C_threads_rule(SEXP asked, SEXP procs, SEXP limit, SEXP others, SEXP forked, SEXP n,
                    SEXP rows)
{
    int a = Rf_asInteger(asked), p = Rf_asInteger(procs), l = Rf_asInteger(limit);
    int fk = Rf_asLogical(forked), nn = Rf_asInteger(n), r = Rf_asInteger(rows);
    double o = Rf_asReal(others);
    if (a == NA_INTEGER || p == NA_INTEGER || l == NA_INTEGER || fk == NA_LOGICAL ||
        nn == NA_INTEGER || r == NA_INTEGER || !R_FINITE(o))
        Rf_error("internal: every input of the thread rule must be a number");
    return Rf_ScalarInteger(moe_threads_rule(a, p, l, o, fk, nn, r));
}

/* For bench/threads.R: scale the break-even rows (0: no bound by the rows)
 * and switch the load bound; returns the previous settings. */
SEXP C_threads_tune(SEXP scale, SEXP load)
{
    double sc = Rf_asReal(scale);
    int ld = Rf_asLogical(load);
    SEXP out = PROTECT(Rf_allocVector(REALSXP, 2));
    REAL(out)[0] = rows_scale;
    REAL(out)[1] = use_load;
    if (R_FINITE(sc) && sc >= 0.0) rows_scale = sc;
    if (ld != NA_LOGICAL) use_load = ld;
    UNPROTECT(1);
    return out;
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
