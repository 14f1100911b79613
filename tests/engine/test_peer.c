/* test_peer.c - en_peer_connect's time limit covers looking the peer's
 * name up. The names *.slow.test are answered late by a getaddrinfo of
 * this file, which every call in the test binary reaches instead of the C
 * library's (the others pass through to it): a DNS server that takes
 * seconds, without needing one. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "peer.h"

#define SLOW_ANSWER_MS 1500
#define STUCK_ANSWER_MS 5000

static atomic_int answered;  /* slow lookups that have returned */

int
getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
            struct addrinfo **res)
{
    static int (*real)(const char *, const char *, const struct addrinfo *,
                       struct addrinfo **);
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "getaddrinfo");
    size_t n = node ? strlen(node) : 0;
    bool numeric = hints && (hints->ai_flags & AI_NUMERICHOST);  /* no lookup asked */
    if (!numeric && n >= 10 && strcmp(node + n - 10, ".slow.test") == 0) {
        /* stuck.slow.test: later still. */
        int ms = strncmp(node, "stuck.", 6) == 0 ? STUCK_ANSWER_MS : SLOW_ANSWER_MS;
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        /* fast.slow.test: late, but an address in the end. */
        int rc = strcmp(node, "fast.slow.test") == 0 ? real("127.0.0.1", service, hints, res)
                                                     : EAI_NONAME;
        atomic_fetch_add(&answered, 1);
        return rc;
    }
    return real(node, service, hints, res);
}

static int64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A listening socket on a free loopback port; *port gets its number. */
static int
listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(listen(fd, 4), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

/* Waits until the slow lookups started have returned, so that the
 * threads holding them have freed them before the test ends (the
 * sanitizer and valgrind runs see any leak). */
static void
await_slow_answers(int n)
{
    int64_t until = now_ms() + 2 * STUCK_ANSWER_MS;
    while (atomic_load(&answered) < n && now_ms() < until)
        usleep(10000);
    cr_assert_eq(atomic_load(&answered), n);
    usleep(50000);  /* the lookup's own release after the answer */
}

Test(peer, a_name_without_answer_fails_at_the_time_limit)
{
    char why[200];
    int64_t t0 = now_ms();
    int fd = en_peer_connect("nowhere.slow.test:7411", 300, NULL, NULL, why, sizeof why);
    int64_t took = now_ms() - t0;
    cr_assert_eq(fd, -1);
    cr_assert_str_eq(why, "cannot resolve nowhere.slow.test:7411: no answer within 300 ms");
    cr_assert(took >= 300 && took < SLOW_ANSWER_MS - 200, "gave up after %lld ms",
              (long long)took);
    await_slow_answers(1);
}

static bool
always(void *ctx)
{
    (void)ctx;
    return true;
}

Test(peer, a_cancelled_lookup_stops_long_before_the_answer)
{
    char why[200];
    int64_t t0 = now_ms();
    int fd = en_peer_connect("nowhere.slow.test:7411", 10000, always, NULL, why, sizeof why);
    int64_t took = now_ms() - t0;
    cr_assert_eq(fd, -1);
    cr_assert(strstr(why, "cannot resolve nowhere.slow.test:7411") == why, "%s", why);
    /* Looked at every 100 ms; the answer would take 1.5 s. */
    cr_assert_lt(took, SLOW_ANSWER_MS - 500, "gave up after %lld ms", (long long)took);
    await_slow_answers(1);
}

Test(peer, a_late_answer_within_the_limit_connects)
{
    int port, lfd = listener(&port);
    char addr[64], why[200];
    snprintf(addr, sizeof addr, "fast.slow.test:%d", port);
    int fd = en_peer_connect(addr, 5000, NULL, NULL, why, sizeof why);
    cr_assert_geq(fd, 0, "%s", why);
    close(fd);
    close(lfd);
    await_slow_answers(1);
}

Test(peer, addresses_and_local_names_connect_and_failures_say_why)
{
    int port, lfd = listener(&port);
    char addr[64], why[200];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    int fd = en_peer_connect(addr, 1000, NULL, NULL, why, sizeof why);
    cr_assert_geq(fd, 0, "%s", why);
    close(fd);
    snprintf(addr, sizeof addr, "localhost:%d", port);
    fd = en_peer_connect(addr, 1000, NULL, NULL, why, sizeof why);
    cr_assert_geq(fd, 0, "%s", why);
    close(fd);
    close(lfd);
    /* Nothing listens there any more. */
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    cr_assert_eq(en_peer_connect(addr, 1000, NULL, NULL, why, sizeof why), -1);
    cr_assert_str_eq(why, "cannot connect: Connection refused");
    cr_assert_eq(en_peer_connect("no-port", 1000, NULL, NULL, why, sizeof why), -1);
    cr_assert_str_eq(why, "address must be host:port");
    cr_assert_eq(en_peer_connect("name.invalid.slow.test:1", 100, NULL, NULL, why, sizeof why),
                 -1);
    cr_assert(strstr(why, "no answer within 100 ms"), "%s", why);
    await_slow_answers(1);
}

/* Lookups left to a DNS server that never answers live on until the
 * resolver gives up: past 64 of them, a connection fails at once instead
 * of starting one more. */
Test(peer, lookups_waiting_on_a_dead_server_are_bounded, .timeout = 60)
{
    char why[200];
    int n = 0;
    for (; n < 64; n++) {
        int fd = en_peer_connect("stuck.slow.test:7411", 10, NULL, NULL, why, sizeof why);
        cr_assert_eq(fd, -1);
        cr_assert(strstr(why, "no answer within 10 ms"), "lookup %d: %s", n, why);
    }
    int64_t t0 = now_ms();
    cr_assert_eq(en_peer_connect("stuck.slow.test:7411", 1000, NULL, NULL, why, sizeof why), -1);
    cr_assert_str_eq(why, "cannot resolve stuck.slow.test:7411: 64 lookups of names already wait");
    cr_assert_lt(now_ms() - t0, 100);
    /* An address needs no lookup, so it still connects. */
    int port, lfd = listener(&port);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    int fd = en_peer_connect(addr, 1000, NULL, NULL, why, sizeof why);
    cr_assert_geq(fd, 0, "%s", why);
    close(fd);
    close(lfd);
    await_slow_answers(64);
    /* Once they end, names are looked up again. */
    cr_assert_eq(en_peer_connect("other.slow.test:1", 50, NULL, NULL, why, sizeof why), -1);
    cr_assert(strstr(why, "no answer within 50 ms"), "%s", why);
    await_slow_answers(65);
}
