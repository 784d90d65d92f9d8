/* fcgi_pool: the pool shape of the benchmark ceilings (fcgi-hello,
 * fcgi-select), the same as graphql-fcgi's: FCGI_WORKERS processes
 * accepting on the unix socket FCGI_SOCKET. */
#ifndef BENCH_FCGI_POOL_H
#define BENCH_FCGI_POOL_H

/* Loads the configuration, opens the socket, forks the workers, each
 * running serve(listen_fd, arg) (its return is the worker's exit status),
 * and waits.  On SIGTERM it stops its own workers by pid (the process group
 * holds the calling benchmark script too), removes the socket and returns
 * 0; 1 if the socket could not be opened. */
int fcgi_pool_run(int (*serve)(int fd, void *arg), void *arg);

#endif
