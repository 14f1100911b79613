/* metrics.h - the optional metrics endpoint: GET /metrics over HTTP on a
 * loopback address, in the Prometheus text exposition format (version
 * 0.0.4), served by libevent's evhttp on the main thread's loop. */
#ifndef JM_ENGINE_METRICS_H
#define JM_ENGINE_METRICS_H

#include <stddef.h>

#include <event2/buffer.h>

#include "server.h"
#include "stats.h"

typedef struct en_metrics en_metrics_t;

/* Binds addr ("127.0.0.1:9411", "[::1]:9411"; port 0 picks a free one)
 * on srv->base, which must be a loopback address, and appends
 * "metrics http://ADDR/metrics\n" to bound (for the ready file). NULL on
 * failure (logged). */
en_metrics_t *en_metrics_start(en_server_t *srv, const char *addr, char *bound,
                               size_t bound_len);
/* Closes the endpoint; m may be NULL. */
void en_metrics_stop(en_metrics_t *m);

/* Writes r in the exposition format. */
void en_metrics_render(const en_report_t *r, struct evbuffer *out);

#endif
