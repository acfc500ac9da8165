/*
 * nginx_harness.h - Debian's nginx for the tests: started on 127.0.0.1 on
 * a free port, with its own configuration in a temporary directory (one
 * worker, no access log, a 612-byte /index.html), stopped and removed at
 * the end. Runs as root (CI) or not.
 */
#ifndef GOC_NGINX_HARNESS_H
#define GOC_NGINX_HARNESS_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct nginx_h {
    pid_t pid;
    int port, tls_port; /* tls_port: 0 unless started with TLS */
    char dir[256];
} nginx_h;

/* The nginx binary, or NULL when it is not installed. */
const char *nginx_path(void);
/* Starts it (from a goroutine); with tls, also an https server on
 * tls_port with a self-signed certificate made by the openssl command
 * (false if that is missing). `extra` is added to the server blocks.
 * false when nginx is missing (a line on stderr says so). */
bool nginx_start(nginx_h *n, bool tls, const char *extra);
void nginx_stop(nginx_h *n);

#endif
