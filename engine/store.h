/* store.h - domain records in the index: turns validated protocol records
 * into indexed documents and back.
 *
 * Writes run on the writer thread inside its transaction; reads on any
 * thread inside a read transaction.
 */
#ifndef JM_ENGINE_STORE_H
#define JM_ENGINE_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include <msgpack.h>

#include "index.h"
#include "record.h"

/* Inserts or replaces v. The server-kept `filled` of an existing vacancy
 * is carried over (a client cannot set it). sbuf is scratch. Returns 0 or
 * a negative errno from the index. */
int en_store_put_vacancy(ix_txn_t *txn, pr_vacancy_t *v, int64_t now,
                         msgpack_sbuffer *sbuf, bool *created);
int en_store_put_worker(ix_txn_t *txn, const pr_worker_t *w, int64_t now,
                        msgpack_sbuffer *sbuf, bool *created);

/* Reads a stored vacancy and decodes it into *out, whose strings live in
 * zone. -ENOENT when absent, -EIO when the stored bytes do not decode. */
int en_store_load_vacancy(ix_txn_t *txn, const char *id, uint32_t id_len,
                          msgpack_zone *zone, pr_vacancy_t *out);

#endif
