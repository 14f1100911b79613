/* audit.h - the audit trail of worker records: who (key name and role)
 * read or changed which worker, with which operation, and when.
 *
 * A change is recorded in the write transaction that makes it, so the two
 * commit together or not at all. A read is answered at once and its
 * entries go to the writer as a job of their own, committed with the next
 * group commit: the reply never waits for them, and a crash can lose the
 * entries of reads answered since the last commit (docs/operations.md).
 * What counts as revealing a worker is listed in docs/protocol.md (5.13).
 */
#ifndef JM_ENGINE_AUDIT_H
#define JM_ENGINE_AUDIT_H

#include <stdint.h>

#include "command.h"
#include "index.h"
#include "message.h"
#include "writer.h"

/* Records, inside the writer's transaction, that job's connection did
 * job's operation to worker id. Returns 0 or a negative errno from the
 * index (which fails the transaction). */
int en_audit_change(ix_txn_t *txn, const en_write_t *job, pr_str_t id);

/* Entries of one read request, gathered while it runs and handed to the
 * writer when it is answered. */
typedef struct en_audit_reads en_audit_reads_t;

/* Room for up to max workers read by req's operation. NULL when out of
 * memory (logged; the read still goes on). */
en_audit_reads_t *en_audit_reads_new(const en_req_t *req, uint32_t max);
/* Notes one worker read (the id is copied). a may be NULL. */
void en_audit_reads_add(en_audit_reads_t *a, const char *id, uint32_t len);
/* Turns the entries into req->audit, a job without a connection that the
 * connection hands to the writer once the reply is on its way (or frees a
 * when it holds none). a may be NULL. Call once per request. */
void en_audit_reads_done(en_req_t *req, en_audit_reads_t *a);

/* Notes a single worker read as req->audit. */
void en_audit_read(en_req_t *req, const char *id, uint32_t len);

#endif
