/* server: the request loop of one FastCGI worker process. */
#ifndef CGI_SERVER_H
#define CGI_SERVER_H

/* Accepts and answers requests on listen_fd until SIGTERM; returns the
 * process exit status. */
int server_run(int listen_fd);

#endif
