/* metrics.c - GET /metrics: the report of stats.h as Prometheus text. */
#include "metrics.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/http.h>

#include "log.h"

struct en_metrics {
    en_server_t *srv;
    struct evhttp *http;
};

static const double quantiles[] = {0.5, 0.9, 0.99};

/* The HELP and TYPE lines that open a metric family. */
static void
family(struct evbuffer *out, const char *name, const char *type, const char *help)
{
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
sample(struct evbuffer *out, const char *name, uint64_t v)
{
    evbuffer_add_printf(out, "%s %llu\n", name, (unsigned long long)v);
}

static void
one(struct evbuffer *out, const char *name, const char *type, const char *help,
    uint64_t v)
{
    family(out, name, type, help);
    sample(out, name, v);
}

void
en_metrics_render(const en_report_t *r, struct evbuffer *out)
{
    family(out, "jobmatch_requests_total", "counter",
           "Requests answered, by operation (other: no known operation).");
    for (size_t i = 0; i < r->n_ops; i++)
        evbuffer_add_printf(out, "jobmatch_requests_total{op=\"%s\"} %llu\n", r->ops[i].name,
                            (unsigned long long)r->ops[i].requests);
    family(out, "jobmatch_request_errors_total", "counter",
           "Requests answered with an error, by operation and error code.");
    for (size_t i = 0; i < r->n_ops; i++)
        for (unsigned c = 1; c < PR_CODE_COUNT; c++)
            if (r->ops[i].by_code[c])
                evbuffer_add_printf(out,
                                    "jobmatch_request_errors_total{op=\"%s\",code=\"%s\"} %llu\n",
                                    r->ops[i].name, pr_code_name((pr_code_t)c),
                                    (unsigned long long)r->ops[i].by_code[c]);
    family(out, "jobmatch_request_duration_seconds", "summary",
           "Time from reading a request to answering it (writes: until committed).");
    for (size_t i = 0; i < r->n_ops; i++) {
        const en_hist_sum_t *h = &r->ops[i].latency;
        if (h->count)
            for (size_t q = 0; q < sizeof quantiles / sizeof quantiles[0]; q++)
                evbuffer_add_printf(out,
                                    "jobmatch_request_duration_seconds{op=\"%s\",quantile=\"%g\"} %.9f\n",
                                    r->ops[i].name, quantiles[q],
                                    (double)en_hist_quantile(h, quantiles[q]) / 1e9);
        evbuffer_add_printf(out, "jobmatch_request_duration_seconds_sum{op=\"%s\"} %.9f\n",
                            r->ops[i].name, (double)h->sum / 1e9);
        evbuffer_add_printf(out, "jobmatch_request_duration_seconds_count{op=\"%s\"} %llu\n",
                            r->ops[i].name, (unsigned long long)h->count);
    }
    family(out, "jobmatch_request_duration_max_seconds", "gauge",
           "The longest request since start, by operation.");
    for (size_t i = 0; i < r->n_ops; i++)
        evbuffer_add_printf(out, "jobmatch_request_duration_max_seconds{op=\"%s\"} %.9f\n",
                            r->ops[i].name, (double)r->ops[i].latency.max / 1e9);

    one(out, "jobmatch_connections", "gauge", "Client connections open now.", r->connections);
    one(out, "jobmatch_connections_total", "counter", "Client connections accepted since start.",
        r->connections_total);
    one(out, "jobmatch_connections_refused_total", "counter",
        "Connections turned away as overloaded (max_clients).", r->connections_refused);
    one(out, "jobmatch_commits_total", "counter", "Write transactions committed.", r->commits);
    one(out, "jobmatch_fsyncs_total", "counter",
        "Commits flushed to disk before being answered (0 with sync = none).", r->fsyncs);
    one(out, "jobmatch_writes_total", "counter", "Client write requests answered by the writer.",
        r->writes);
    family(out, "jobmatch_commit_batch_size", "summary",
           "Jobs (writes and audit entries of reads) applied per commit.");
    if (r->batch.count)
        for (size_t q = 0; q < sizeof quantiles / sizeof quantiles[0]; q++)
            evbuffer_add_printf(out, "jobmatch_commit_batch_size{quantile=\"%g\"} %llu\n",
                                quantiles[q],
                                (unsigned long long)en_hist_quantile(&r->batch, quantiles[q]));
    sample(out, "jobmatch_commit_batch_size_sum", r->batch.sum);
    sample(out, "jobmatch_commit_batch_size_count", r->batch.count);
    one(out, "jobmatch_audit_read_jobs_total", "counter",
        "Audit entries of reads handed to the writer (one job per read request).",
        r->audit_jobs);
    one(out, "jobmatch_audit_read_jobs_lost_total", "counter",
        "Of those, jobs whose entries could not be committed.", r->audit_lost);
    one(out, "jobmatch_audit_read_waits_total", "counter",
        "Of those, jobs that found the writer's queue full: their connection "
        "read nothing more until it had room.",
        r->audit_waits);
    one(out, "jobmatch_network_requests_total", "counter",
        "Network-wide requests answered (match.vacancies scope network, network roll-ups).",
        r->network_requests);
    one(out, "jobmatch_network_ranked_again_total", "counter",
        "Answers to network-wide matches ranked again deeper, for copies that lag.",
        r->network_ranked_again);
    family(out, "jobmatch_network_peer_missing_total", "counter",
        "Network-wide requests a [peers] node was left out of (unreachable, refused, "
        "too slow), by its name.");
    for (unsigned i = 0; i < r->n_peers; i++)
        evbuffer_add_printf(out, "jobmatch_network_peer_missing_total{peer=\"%s\"} %llu\n",
                            r->peers[i].name, (unsigned long long)r->peers[i].missing);

    family(out, "jobmatch_records", "gauge", "Records stored, by kind.");
    evbuffer_add_printf(out, "jobmatch_records{kind=\"vacancy\"} %llu\n",
                        (unsigned long long)r->store.vacancies);
    evbuffer_add_printf(out, "jobmatch_records{kind=\"worker\"} %llu\n",
                        (unsigned long long)r->store.workers);
    family(out, "jobmatch_records_matchable", "gauge",
           "Open vacancies and available workers.");
    evbuffer_add_printf(out, "jobmatch_records_matchable{kind=\"vacancy\"} %llu\n",
                        (unsigned long long)r->store.vacancies_open);
    evbuffer_add_printf(out, "jobmatch_records_matchable{kind=\"worker\"} %llu\n",
                        (unsigned long long)r->store.workers_available);
    one(out, "jobmatch_changelog_seq", "gauge", "Sequence number of the last change.",
        r->store.last_seq);
    one(out, "jobmatch_audit_seq", "gauge", "Sequence number of the last audit entry.",
        r->store.audit_seq);
    one(out, "jobmatch_store_map_size_bytes", "gauge", "Bytes the database may grow to.",
        r->store.map_size);
    one(out, "jobmatch_store_map_used_bytes", "gauge", "Bytes of the database in use.",
        r->store.map_used);
    one(out, "jobmatch_id_cache_ids", "gauge", "Record ids copied into the id cache.",
        r->store.id_cache_ids);
    one(out, "jobmatch_id_cache_bytes", "gauge", "Bytes the id cache's ids take.",
        r->store.id_cache_bytes);
    one(out, "jobmatch_uptime_seconds", "gauge", "Seconds since the daemon started.",
        (uint64_t)r->uptime);
    one(out, "jobmatch_start_time_seconds", "gauge", "When the daemon started, Unix seconds.",
        (uint64_t)r->started);
}

static void
on_metrics(struct evhttp_request *req, void *arg)
{
    en_metrics_t *m = arg;
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
        evhttp_send_error(req, 405, "Method Not Allowed");
        return;
    }
    en_report_t r;
    int rc = en_report(m->srv, &r);
    if (rc != 0) {
        en_warn("metrics: %s", ix_strerror(rc));
        evhttp_send_error(req, HTTP_INTERNAL, "storage error");
        return;
    }
    struct evbuffer *body = evbuffer_new();
    if (!body) {
        en_report_free(&r);
        evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
        return;
    }
    en_metrics_render(&r, body);
    en_report_free(&r);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; version=0.0.4; charset=utf-8");
    evhttp_send_reply(req, HTTP_OK, "OK", body);
    evbuffer_free(body);
}

/* Splits "host:port" or "[v6]:port" and checks the host is loopback. */
static int
parse_loopback(const char *addr, char *host, size_t host_len, uint16_t *port)
{
    const char *colon = strrchr(addr, ':');
    if (!colon || colon == addr)
        return -1;
    const char *h = addr;
    size_t n = (size_t)(colon - addr);
    if (h[0] == '[') {
        if (n < 2 || h[n - 1] != ']')
            return -1;
        h++;
        n -= 2;
    }
    if (n == 0 || n >= host_len)
        return -1;
    memcpy(host, h, n);
    host[n] = '\0';
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || p < 0 || p > 65535)
        return -1;
    *port = (uint16_t)p;
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127 ? 0 : -1;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6) ? 0 : -1;
    return -1;
}

en_metrics_t *
en_metrics_start(en_server_t *srv, const char *addr, char *bound, size_t bound_len)
{
    char host[64];
    uint16_t port;
    if (parse_loopback(addr, host, sizeof host, &port) != 0) {
        en_error("metrics_listen %s: must be a loopback address and port, such as "
                 "127.0.0.1:9411 or [::1]:9411", addr);
        return NULL;
    }
    en_metrics_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->srv = srv;
    m->http = evhttp_new(srv->base);
    if (!m->http) {
        free(m);
        return NULL;
    }
    /* Requests are a GET line and a few headers; nothing else is read. */
    evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
    evhttp_set_max_headers_size(m->http, 8192);
    evhttp_set_max_body_size(m->http, 0);
    evhttp_set_timeout(m->http, 10);
    evhttp_set_cb(m->http, "/metrics", on_metrics, m);
    struct evhttp_bound_socket *sock = evhttp_bind_socket_with_handle(m->http, host, port);
    if (!sock) {
        en_error("metrics: cannot listen on %s", addr);
        evhttp_free(m->http);
        free(m);
        return NULL;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char text[128] = "?";
    if (getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&ss, &sl) == 0) {
        char h[INET6_ADDRSTRLEN] = "";
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *s = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &s->sin_addr, h, sizeof h);
            snprintf(text, sizeof text, "%s:%u", h, ntohs(s->sin_port));
        } else {
            struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &s->sin6_addr, h, sizeof h);
            snprintf(text, sizeof text, "[%s]:%u", h, ntohs(s->sin6_port));
        }
    }
    snprintf(bound, bound_len, "metrics http://%s/metrics\n", text);
    en_info("metrics on http://%s/metrics", text);
    return m;
}

void
en_metrics_stop(en_metrics_t *m)
{
    if (!m)
        return;
    evhttp_free(m->http);
    free(m);
}
