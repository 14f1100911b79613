/* test_service.c - the daemon under a service manager: readiness is
 * announced on $NOTIFY_SOCKET only once the listener accepts, and SIGTERM
 * is announced as stopping. */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"
#include "jobmatch.h"
#include "wire.h"

/* Reads one notification datagram (NUL-terminated) within timeout_ms;
 * returns its length or -1. */
static ssize_t
recv_notice(int fd, char *buf, size_t len, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) != 1)
        return -1;
    ssize_t n = recv(fd, buf, len - 1, 0);
    if (n >= 0)
        buf[n] = '\0';
    return n;
}

Test(service, notify_ready_and_stopping)
{
    char dir[] = "/tmp/jm-notify-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s/notify", dir);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0, "%s", strerror(errno));
    setenv("NOTIFY_SOCKET", sun.sun_path, 1);

    jt_daemon_t *d = jt_daemon_start(NULL);
    unsetenv("NOTIFY_SOCKET");
    char msg[512];
    cr_assert_gt(recv_notice(fd, msg, sizeof msg, 10000), 0, "no readiness notice");
    cr_assert_not_null(strstr(msg, "READY=1"), "notice was: %s", msg);
    /* Ready means serving. */
    jm_client_t *c = jt_connect(d);
    jm_reply_t *r = jt_call_json(c, "ping", "{}");
    jt_expect_ok(r, "ping after READY=1");
    jm_reply_free(r);
    jm_close(c);

    cr_assert_eq(jt_daemon_stop(d), 0);
    cr_assert_gt(recv_notice(fd, msg, sizeof msg, 10000), 0, "no stopping notice");
    cr_assert_not_null(strstr(msg, "STOPPING=1"), "notice was: %s", msg);
    close(fd);
    unlink(sun.sun_path);
    rmdir(dir);
}
