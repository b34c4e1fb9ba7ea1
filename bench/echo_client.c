/*
 * Load generator for the echo benchmark (python -m bench.echo compiles it).
 *
 * One thread, one epoll set, N TCP connections to 127.0.0.1:PORT.  Each
 * connection is strict ping-pong as in vmbench's echo_client: send one
 * message, read until the whole message came back (and compare it byte for
 * byte), then send the next one.  Only one request is ever in flight per
 * connection.
 *
 * Load mode (default):
 *   echo_client --port P --conns N --size BYTES [--line BYTES]
 *               [--warmup SECONDS] [--duration SECONDS]
 *   prints one JSON object: completed requests in the measured window,
 *   req/s, latency quantiles (1 us buckets) and the client's own CPU time
 *   during the window, which shows how close the client is to being the
 *   bottleneck.  Messages up to 4 KiB are always compared with what was
 *   sent; larger ones during the warm-up only (see on_readable).
 *
 * Idle mode (memory benchmark):
 *   echo_client --port P --idle N
 *   opens N connections in batches, echoes one "\n" on each (so the server
 *   has accepted it and built its protocol), prints "READY N", then holds
 *   them open without traffic until standard input reaches end of file.
 *
 * The message is --size bytes of 'x' with '\n' ending every --line bytes
 * (default: one line, vmbench's b'x' * (size - 1) + b'\n').
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HIST_US 1000000 /* 1 us buckets up to 1 s; slower requests land in the last one */
#define RECV_CHUNK (64 * 1024)
#define IDLE_BATCH 100
#define VERIFY_ALWAYS 4096 /* messages up to this size are compared in full, always */

typedef struct {
    int fd;
    size_t sent;     /* bytes of the current message written */
    size_t received; /* bytes of the current message read back */
    int want_out;    /* EPOLLOUT registered */
    double started;  /* when the current message was first written */
} conn_t;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void die(const char *what) {
    fprintf(stderr, "echo_client: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void fail(const char *what) {
    fprintf(stderr, "echo_client: %s\n", what);
    exit(3);
}

static void raise_nofile(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int open_conn(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* Blocking connect: on loopback it completes once the server's listen
       queue has room, so no connection is silently lost. */
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) die("connect");
    int flags = fcntl(fd, F_GETFL, 0);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) die("fcntl");
    return fd;
}

/* ---------------------------------------------------------------- load --- */

static const char *msg;
static size_t msg_size;
static uint32_t *hist;
static uint64_t done_in_window;
static uint64_t done_total;
static int measuring;

static void set_events(int ep, conn_t *c, int want_out) {
    if (c->want_out == want_out) return;
    struct epoll_event ev;
    ev.events = EPOLLIN | (want_out ? EPOLLOUT : 0);
    ev.data.ptr = c;
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl");
    c->want_out = want_out;
}

static void pump_send(int ep, conn_t *c) {
    while (c->sent < msg_size) {
        ssize_t n = send(c->fd, msg + c->sent, msg_size - c->sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            if (errno == EINTR) continue;
            die("send");
        }
        c->sent += (size_t)n;
    }
    set_events(ep, c, c->sent < msg_size);
}

static void start_request(int ep, conn_t *c, double t) {
    c->sent = 0;
    c->received = 0;
    c->started = t;
    pump_send(ep, c);
}

static void on_readable(int ep, conn_t *c, char *buf) {
    for (;;) {
        /* Small messages are always compared byte for byte with what was
           sent.  Large ones are compared during the warm-up; inside the
           measured window the kernel discards their bytes (MSG_TRUNC: no
           copy to user space) and only the count is checked, so the client's
           cost per request stays well below the server's. */
        int discard = measuring && msg_size > VERIFY_ALWAYS;
        size_t want = discard ? msg_size - c->received : RECV_CHUNK;
        ssize_t n = recv(c->fd, discard ? NULL : buf, want, discard ? MSG_TRUNC : 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            if (errno == EINTR) continue;
            die("recv");
        }
        if (n == 0) fail("server closed a connection");
        size_t got = (size_t)n;
        if (c->received + got > c->sent || c->received + got > msg_size)
            fail("server sent more than was sent to it");
        if (!discard && memcmp(buf, msg + c->received, got) != 0)
            fail("echoed bytes differ from the message");
        c->received += got;
        if (c->received == msg_size) {
            double t = now();
            done_total++;
            if (measuring) {
                long us = (long)((t - c->started) * 1e6);
                if (us < 0) us = 0;
                if (us >= HIST_US) us = HIST_US - 1;
                hist[us]++;
                done_in_window++;
            }
            start_request(ep, c, t);
            return;
        }
        if ((size_t)n < want) return;
    }
}

static double quantile(uint64_t total, double q) {
    if (total == 0) return 0.0;
    uint64_t rank = (uint64_t)(q * (double)(total - 1)) + 1;
    uint64_t seen = 0;
    for (long i = 0; i < HIST_US; i++) {
        seen += hist[i];
        if (seen >= rank) return (double)i;
    }
    return (double)(HIST_US - 1);
}

static int run_load(int port, int nconns, size_t size, size_t line, double warmup,
                    double duration) {
    char *m = malloc(size);
    if (!m) die("malloc");
    for (size_t i = 0; i < size; i++) m[i] = ((i + 1) % line == 0) ? '\n' : 'x';
    m[size - 1] = '\n';
    msg = m;
    msg_size = size;
    hist = calloc(HIST_US, sizeof *hist);
    char *buf = malloc(RECV_CHUNK);
    conn_t *conns = calloc((size_t)nconns, sizeof *conns);
    if (!hist || !buf || !conns) die("malloc");

    int ep = epoll_create1(0);
    if (ep < 0) die("epoll_create1");
    for (int i = 0; i < nconns; i++) {
        conns[i].fd = open_conn(port);
        struct epoll_event ev;
        ev.events = EPOLLIN;
        ev.data.ptr = &conns[i];
        if (epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev) < 0) die("epoll_ctl");
    }

    struct epoll_event *events = calloc((size_t)nconns, sizeof *events);
    if (!events) die("malloc");
    double t0 = now();
    double window_start = t0 + warmup, window_end = window_start + duration;
    double cpu_start = 0.0, wall_start = 0.0;
    for (int i = 0; i < nconns; i++) start_request(ep, &conns[i], t0);

    for (;;) {
        double t = now();
        if (!measuring && t >= window_start) {
            measuring = 1;
            cpu_start = cpu_seconds();
            wall_start = t;
        }
        if (t >= window_end) break;
        int n = epoll_wait(ep, events, nconns, 5);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            conn_t *c = events[i].data.ptr;
            if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(ep, c, buf);
            if ((events[i].events & EPOLLOUT) && c->sent < msg_size) pump_send(ep, c);
        }
    }
    double wall = now() - wall_start;
    double cpu = cpu_seconds() - cpu_start;

    double mean = 0.0;
    long max_us = 0;
    for (long i = 0; i < HIST_US; i++) {
        if (hist[i]) {
            mean += (double)i * (double)hist[i];
            max_us = i;
        }
    }
    if (done_in_window) mean /= (double)done_in_window;
    printf("{\"requests\": %llu, \"seconds\": %.6f, \"rps\": %.1f, \"mean_us\": %.1f, "
           "\"p50_us\": %.0f, \"p90_us\": %.0f, \"p99_us\": %.0f, \"max_us\": %ld, "
           "\"client_cpu\": %.4f, \"total_requests\": %llu}\n",
           (unsigned long long)done_in_window, wall, (double)done_in_window / wall, mean,
           quantile(done_in_window, 0.50), quantile(done_in_window, 0.90),
           quantile(done_in_window, 0.99), max_us, cpu / wall,
           (unsigned long long)done_total);
    fflush(stdout);
    for (int i = 0; i < nconns; i++) close(conns[i].fd);
    return 0;
}

/* ---------------------------------------------------------------- idle --- */

static int run_idle(int port, int nconns) {
    int *fds = calloc((size_t)nconns, sizeof *fds);
    if (!fds) die("malloc");
    int ep = epoll_create1(0);
    if (ep < 0) die("epoll_create1");
    struct epoll_event events[IDLE_BATCH];
    for (int base = 0; base < nconns; base += IDLE_BATCH) {
        int end = base + IDLE_BATCH < nconns ? base + IDLE_BATCH : nconns;
        for (int i = base; i < end; i++) {
            fds[i] = open_conn(port);
            if (send(fds[i], "\n", 1, MSG_NOSIGNAL) != 1) die("send");
            struct epoll_event ev;
            ev.events = EPOLLIN;
            ev.data.u32 = (uint32_t)i;
            if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0) die("epoll_ctl");
        }
        int waiting = end - base;
        double deadline = now() + 30.0;
        while (waiting > 0) {
            if (now() > deadline) fail("timed out waiting for the server's echo");
            int n = epoll_wait(ep, events, IDLE_BATCH, 1000);
            if (n < 0) {
                if (errno == EINTR) continue;
                die("epoll_wait");
            }
            for (int k = 0; k < n; k++) {
                int fd = fds[events[k].data.u32];
                char c;
                ssize_t r = recv(fd, &c, 1, 0);
                if (r == 0) fail("server closed an idle connection");
                if (r < 0) {
                    if (errno == EAGAIN || errno == EINTR) continue;
                    die("recv");
                }
                if (c != '\n') fail("wrong echo on an idle connection");
                epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
                waiting--;
            }
        }
    }
    printf("READY %d\n", nconns);
    fflush(stdout);
    char sink[256];
    while (read(0, sink, sizeof sink) > 0) {
    }
    for (int i = 0; i < nconns; i++) close(fds[i]);
    return 0;
}

/* ---------------------------------------------------------------- main --- */

int main(int argc, char **argv) {
    int port = 0, nconns = 10, idle = 0;
    size_t size = 1024, line = 0;
    double warmup = 1.0, duration = 3.0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "echo_client: %s needs a value\n", a);
            return 1;
        }
        if (!strcmp(a, "--port")) port = atoi(v);
        else if (!strcmp(a, "--conns")) nconns = atoi(v);
        else if (!strcmp(a, "--size")) size = (size_t)atol(v);
        else if (!strcmp(a, "--line")) line = (size_t)atol(v);
        else if (!strcmp(a, "--warmup")) warmup = atof(v);
        else if (!strcmp(a, "--duration")) duration = atof(v);
        else if (!strcmp(a, "--idle")) idle = atoi(v);
        else {
            fprintf(stderr, "echo_client: unknown option %s\n", a);
            return 1;
        }
        i++;
    }
    if (port <= 0 || port > 65535) {
        fprintf(stderr, "echo_client: --port is required\n");
        return 1;
    }
    raise_nofile();
    if (idle > 0) return run_idle(port, idle);
    if (nconns <= 0 || size == 0 || duration <= 0 || warmup < 0) {
        fprintf(stderr, "echo_client: bad --conns/--size/--duration/--warmup\n");
        return 1;
    }
    if (line == 0 || line > size) line = size;
    if (size % line) {
        fprintf(stderr, "echo_client: --size must be a multiple of --line\n");
        return 1;
    }
    return run_load(port, nconns, size, line, warmup, duration);
}
