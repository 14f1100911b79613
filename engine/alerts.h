/* alerts.h - match alerts: standing subscriptions for a worker (vacancies,
 * new or changed, that match it) or for a vacancy (newly registered
 * workers that match it), above a score and with the filters of the
 * match operations.
 *
 * A subscription is checked inside the very write transaction that puts
 * the record (through the index's put hook, on the writer thread), so the
 * alert is stored with the write, and pushed to the connections listening
 * to the subscription the moment that transaction commits; an aborted
 * transaction raises nothing. Only subscriptions whose subject shares a
 * skill or a minor occupation group with the record are scored (rule 6;
 * engine/terms.h). Scores are the ones match.vacancies / match.workers
 * would give at that moment (docs/alerts.md).
 *
 * Threads: subscribe and unsubscribe run on the writer thread inside its
 * transaction; listen and forget on any thread.
 */
#ifndef JM_ENGINE_ALERTS_H
#define JM_ENGINE_ALERTS_H

#include <stdint.h>

#include "index.h"
#include "match.h"
#include "server.h"

typedef struct en_alerts en_alerts_t;

/* What a subscription asks for. kind is the subject's: IX_WORKER (alerts
 * name vacancies) or IX_VACANCY (alerts name workers). Filters as in
 * match.*: occupation, employer and min_wage for a worker subject,
 * category for a vacancy subject. */
typedef struct en_sub_spec {
    uint8_t kind;
    pr_str_t subject;
    double min_score;
    int scope;
    en_match_filters_t filters;
} en_sub_spec_t;

/* Loads the subscriptions of srv's store and installs the index hooks.
 * NULL when out of memory or the store cannot be read (logged). */
en_alerts_t *en_alerts_open(en_server_t *srv);
void en_alerts_close(en_alerts_t *a);

/* Writer thread, inside txn. subscribe: -ENOENT when the subject is not
 * stored; the subscription takes effect when txn commits; *value (the
 * stored map, owned by a) lets the caller answer with it. unsubscribe:
 * -ENOENT for an unknown id. */
int en_alerts_subscribe(en_alerts_t *a, ix_txn_t *txn, const en_sub_spec_t *spec,
                        int64_t now, const char *by, uint64_t *id);
int en_alerts_unsubscribe(en_alerts_t *a, ix_txn_t *txn, uint64_t id);

/* Connection conn_serial of worker w receives subscription sub's alerts
 * as push frames until it closes (en_alerts_forget). */
void en_alerts_listen(en_alerts_t *a, uint64_t sub, en_worker_t *w,
                      uint64_t conn_serial);
void en_alerts_forget(en_alerts_t *a, en_worker_t *w, uint64_t conn_serial);

/* Decodes a stored subscription (ix_sub_get) into *spec (strings point
 * into the value). Returns 0 or -EIO. */
int en_sub_decode(const void *value, size_t len, msgpack_zone *zone,
                  en_sub_spec_t *spec);

#endif
