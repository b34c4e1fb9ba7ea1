/*
 * TLS echo load generator and native TLS echo server, for bench/tls_echo.py.
 *
 *   tls_echo client HOST PORT CONNECTIONS MSGSIZE WARMUP_S DURATION_S
 *       One thread per connection, blocking OpenSSL: write a MSGSIZE
 *       message, read until MSGSIZE bytes came back, repeat (ping-pong).
 *       Prints "requests=N seconds=S cpu=C" for the measured period (C is
 *       the client's own CPU time then).
 *   tls_echo server CERT KEY
 *       A native echo server (one thread per connection); prints its port.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static SSL_CTX *ctx;
static const char *host;
static int port, msgsize;
static atomic_long requests;
static atomic_int stop;

static void die(const char *what) {
    fprintf(stderr, "tls_echo: %s\n", what);
    ERR_print_errors_fp(stderr);
    exit(1);
}

static int tcp_connect(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, host, &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) die("connect failed");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void *client(void *arg) {
    (void)arg;
    char *msg = malloc(msgsize), *buf = malloc(msgsize);
    memset(msg, 'x', msgsize);
    int fd = tcp_connect();
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    if (SSL_connect(ssl) != 1) die("handshake failed");
    while (!atomic_load(&stop)) {
        if (SSL_write(ssl, msg, msgsize) != msgsize) die("write failed");
        int got = 0;
        while (got < msgsize) {
            int n = SSL_read(ssl, buf + got, msgsize - got);
            if (n <= 0) die("read failed");
            got += n;
        }
        atomic_fetch_add(&requests, 1);
    }
    SSL_shutdown(ssl);
    SSL_free(ssl);
    close(fd);
    free(msg);
    free(buf);
    return NULL;
}

static double cpu(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *serve(void *arg) {
    SSL *ssl = arg;
    char buf[65536];
    if (SSL_accept(ssl) == 1) {
        int n;
        while ((n = SSL_read(ssl, buf, sizeof buf)) > 0)
            if (SSL_write(ssl, buf, n) != n) break;
        SSL_shutdown(ssl);
    }
    close(SSL_get_fd(ssl));
    SSL_free(ssl);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc == 8 && !strcmp(argv[1], "client")) {
        host = argv[2];
        port = atoi(argv[3]);
        int conns = atoi(argv[4]);
        msgsize = atoi(argv[5]);
        double warmup = atof(argv[6]), duration = atof(argv[7]);
        ctx = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        pthread_t *threads = calloc(conns, sizeof *threads);
        for (int i = 0; i < conns; i++) pthread_create(&threads[i], NULL, client, NULL);
        usleep((useconds_t)(warmup * 1e6));
        long before = atomic_load(&requests);
        double start = now(), cpuStart = cpu();
        usleep((useconds_t)(duration * 1e6));
        long after = atomic_load(&requests);
        double elapsed = now() - start, cpuUsed = cpu() - cpuStart;
        atomic_store(&stop, 1);
        for (int i = 0; i < conns; i++) pthread_join(threads[i], NULL);
        printf("requests=%ld seconds=%.3f cpu=%.3f\n", after - before, elapsed, cpuUsed);
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "server")) {
        ctx = SSL_CTX_new(TLS_server_method());
        if (SSL_CTX_use_certificate_chain_file(ctx, argv[2]) != 1) die("bad certificate");
        if (SSL_CTX_use_PrivateKey_file(ctx, argv[3], SSL_FILETYPE_PEM) != 1) die("bad key");
        int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        struct sockaddr_in sa = {.sin_family = AF_INET};
        inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
        socklen_t len = sizeof sa;
        if (bind(lfd, (struct sockaddr *)&sa, len) < 0 || listen(lfd, 128) < 0) die("listen");
        getsockname(lfd, (struct sockaddr *)&sa, &len);
        printf("%d\n", ntohs(sa.sin_port));
        fflush(stdout);
        for (;;) {
            int fd = accept(lfd, NULL, NULL);
            if (fd < 0) continue;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            SSL *ssl = SSL_new(ctx);
            SSL_set_fd(ssl, fd);
            pthread_t t;
            pthread_create(&t, NULL, serve, ssl);
            pthread_detach(t);
        }
    }
    fprintf(stderr, "usage: tls_echo client HOST PORT CONNS MSGSIZE WARMUP DURATION | server CERT KEY\n");
    return 2;
}
