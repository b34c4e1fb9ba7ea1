/*
 * Native echo server: the ceiling row of the echo benchmark.
 *
 * One thread, level-triggered epoll, non-blocking sockets with TCP_NODELAY.
 * On a readable event it reads (64 KiB at a time, up to READS_PER_EVENT
 * times, like libuv) and writes each chunk straight back.  When the kernel
 * does not take all of a chunk, the rest is kept and reading from that
 * connection pauses until it has been sent.  (The Python echo servers keep
 * reading instead and let their transport's buffer grow; in strict
 * ping-pong the two behave alike.)
 *
 *   echo_server [--port P]     (0 or absent: an ephemeral port)
 *
 * Listens on 127.0.0.1, prints "PORTS <port> <port>" (the same port serves
 * the plain and the line-by-line workloads: this server always echoes whole
 * reads), then serves until it is killed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE (64 * 1024) /* larger reads measured slower here: more cache traffic per call */
#define READS_PER_EVENT 32

typedef struct {
    int fd;
    char *pending; /* unsent bytes, or NULL */
    size_t pending_len, pending_off;
} conn_t;

static void die(const char *what) {
    fprintf(stderr, "echo_server: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void close_conn(int ep, conn_t *c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->pending);
    free(c);
}

/* Send what is pending; returns -1 on a fatal error, else 0. */
static int flush_pending(int ep, conn_t *c) {
    while (c->pending_off < c->pending_len) {
        ssize_t n = send(c->fd, c->pending + c->pending_off, c->pending_len - c->pending_off,
                         MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
            if (errno == EINTR) continue;
            return -1;
        }
        c->pending_off += (size_t)n;
    }
    free(c->pending);
    c->pending = NULL;
    c->pending_len = c->pending_off = 0;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    return 0;
}

/* Echo what is readable (up to READS_PER_EVENT reads, like libuv); returns
   -1 when the connection should be closed. */
static int on_readable(int ep, conn_t *c, char *buf) {
    for (int reads = 0; reads < READS_PER_EVENT; reads++) {
        ssize_t n = recv(c->fd, buf, BUF_SIZE, 0);
        if (n == 0) return -1;
        if (n < 0) {
            if (errno == EINTR) continue;
            return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
        }
        size_t off = 0, len = (size_t)n;
        while (off < len) {
            ssize_t w = send(c->fd, buf + off, len - off, MSG_NOSIGNAL);
            if (w < 0) {
                if (errno == EINTR) continue;
                if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
                c->pending = malloc(len - off);
                if (!c->pending) die("malloc");
                memcpy(c->pending, buf + off, len - off);
                c->pending_len = len - off;
                c->pending_off = 0;
                struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                return 0;
            }
            off += (size_t)w;
        }
        if (len < BUF_SIZE) return 0; /* drained */
    }
    return 0;
}

int main(int argc, char **argv) {
    int port = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (lfd < 0) die("socket");
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0) die("bind");
    if (listen(lfd, 1024) < 0) die("listen");
    socklen_t salen = sizeof sa;
    if (getsockname(lfd, (struct sockaddr *)&sa, &salen) < 0) die("getsockname");

    int ep = epoll_create1(0);
    if (ep < 0) die("epoll_create1");
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev) < 0) die("epoll_ctl");
    printf("PORTS %d %d\n", ntohs(sa.sin_port), ntohs(sa.sin_port));
    fflush(stdout);

    char *buf = malloc(BUF_SIZE);
    if (!buf) die("malloc");
    struct epoll_event events[256];
    for (;;) {
        int n = epoll_wait(ep, events, 256, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            conn_t *c = events[i].data.ptr;
            if (c == NULL) {
                for (;;) {
                    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
                    if (fd < 0) break;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    conn_t *nc = calloc(1, sizeof *nc);
                    if (!nc) die("calloc");
                    nc->fd = fd;
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = nc};
                    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
                }
                continue;
            }
            int bad = 0;
            if (c->pending) {
                if (events[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
                    bad = flush_pending(ep, c) < 0 || (events[i].events & EPOLLERR);
            } else if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                bad = on_readable(ep, c, buf) < 0;
            }
            if (bad) close_conn(ep, c);
        }
    }
}
