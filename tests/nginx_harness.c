/*
 * nginx_harness.c - Debian's nginx for the tests (see nginx_harness.h).
 */
#include "nginx_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "goc.h"
#include "goc_test.h"

const char *nginx_path(void)
{
    static const char *const paths[] = {"/usr/sbin/nginx", "/usr/bin/nginx",
                                        "/usr/local/sbin/nginx"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        if (access(paths[i], X_OK) == 0)
            return paths[i];
    return NULL;
}

/* A port that was free a moment ago. */
static int free_port(void)
{
    goc_listener *l;
    char addr[GOC_ADDRSTRLEN];
    ASSERT_EQ(goc_listen(&l, "tcp", "127.0.0.1:0"), 0);
    ASSERT_EQ(goc_listener_addr(l, addr, sizeof addr), 0);
    goc_listener_close(l);
    return atoi(strrchr(addr, ':') + 1);
}

static int run_cmd(const char *const *argv)
{
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st;
    goc_syscall_begin();
    waitpid(pid, &st, 0);
    goc_syscall_end();
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

bool nginx_start(nginx_h *n, bool tls, const char *extra)
{
    memset(n, 0, sizeof *n);
    const char *bin = nginx_path();
    if (!bin) {
        fprintf(stderr, "SKIP: nginx is not installed (tools/install-deps.sh "
                        "installs nginx-light)\n");
        return false;
    }
    snprintf(n->dir, sizeof n->dir, "/tmp/goc-nginx-XXXXXX");
    ASSERT(mkdtemp(n->dir) != NULL);
    chmod(n->dir, 0755); /* the workers may run as nobody */
    char p[512];
    snprintf(p, sizeof p, "%s/html", n->dir);
    ASSERT_EQ(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/html/index.html", n->dir);
    FILE *f = fopen(p, "w");
    ASSERT(f != NULL);
    for (int i = 0; i < 612; i++)
        fputc(i % 64 == 63 ? '\n' : 'a' + i % 26, f);
    fclose(f);
    chmod(p, 0644);
    n->port = free_port();
    char tlsconf[1024] = "";
    if (tls) {
        char crt[300], key[300];
        snprintf(crt, sizeof crt, "%s/cert.pem", n->dir);
        snprintf(key, sizeof key, "%s/key.pem", n->dir);
        const char *argv[] = {
            "openssl", "req",   "-x509", "-newkey", "rsa:2048",
            "-nodes",  "-days", "1",     "-subj",   "/CN=localhost",
            "-keyout", key,     "-out",  crt,       NULL};
        if (run_cmd(argv) != 0) {
            fprintf(stderr, "SKIP: the openssl command could not make a "
                            "certificate\n");
            nginx_stop(n);
            return false;
        }
        chmod(key, 0644);
        n->tls_port = free_port();
        snprintf(tlsconf, sizeof tlsconf,
                 "server { listen 127.0.0.1:%d ssl; root %s/html; "
                 "ssl_certificate %s; ssl_certificate_key %s; "
                 "ssl_session_cache shared:S:1m; %s }\n",
                 n->tls_port, n->dir, crt, key, extra ? extra : "");
    }
    snprintf(p, sizeof p, "%s/nginx.conf", n->dir);
    f = fopen(p, "w");
    ASSERT(f != NULL);
    fprintf(f,
            "worker_processes 1;\ndaemon off;\npid %s/nginx.pid;\n"
            "error_log %s/error.log;\nevents { worker_connections 1024; }\n"
            "http {\n access_log off;\n sendfile off;\n tcp_nopush off;\n"
            " keepalive_requests 1000000000;\n keepalive_timeout 300s;\n"
            " client_body_temp_path %s/tmp;\n proxy_temp_path %s/tmp;\n"
            " fastcgi_temp_path %s/tmp;\n uwsgi_temp_path %s/tmp;\n"
            " scgi_temp_path %s/tmp;\n"
            " server { listen 127.0.0.1:%d; root %s/html; %s }\n %s}\n",
            n->dir, n->dir, n->dir, n->dir, n->dir, n->dir, n->dir, n->port,
            n->dir, extra ? extra : "", tlsconf);
    fclose(f);
    char conf[512], errlog[512];
    snprintf(conf, sizeof conf, "%s/nginx.conf", n->dir);
    snprintf(errlog, sizeof errlog, "%s/error.log", n->dir);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(bin, bin, "-c", conf, "-p", n->dir, "-e", errlog, (char *)NULL);
        _exit(127);
    }
    n->pid = pid;
    /* Ready once it accepts (on both ports). */
    char addr[64];
    for (int port = 0; port < 2; port++) {
        int pt = port ? n->tls_port : n->port;
        if (!pt)
            continue;
        snprintf(addr, sizeof addr, "127.0.0.1:%d", pt);
        bool up = false;
        for (int i = 0; i < 500 && !up; i++) {
            goc_conn *c;
            if (goc_dial_timeout(&c, "tcp", addr, GOC_SECOND) == 0) {
                goc_conn_close(c);
                up = true;
            } else {
                goc_sleep(10 * GOC_MILLISECOND);
            }
        }
        if (!up) {
            char cmd[600];
            snprintf(cmd, sizeof cmd, "cat %s >&2", errlog);
            if (system(cmd) < 0)
                fprintf(stderr, "(no error log)\n");
            GOC_FAIL_("nginx did not come up on %s", addr);
        }
    }
    return true;
}

void nginx_stop(nginx_h *n)
{
    if (n->pid > 0) {
        kill(n->pid, SIGTERM);
        int st;
        goc_syscall_begin();
        waitpid(n->pid, &st, 0);
        goc_syscall_end();
        n->pid = 0;
    }
    if (n->dir[0]) {
        const char *argv[] = {"rm", "-rf", n->dir, NULL};
        run_cmd(argv);
        n->dir[0] = '\0';
    }
}
