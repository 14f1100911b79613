/* scratch.h - an index store in a temporary directory of its own, for the
 * unit tests: made, opened again, and removed with everything in it. The
 * store has a 64 MiB map and no sync. Helpers that cannot proceed fail the
 * current Criterion test.
 */
#ifndef JM_TESTS_SCRATCH_H
#define JM_TESTS_SCRATCH_H

#include <lmdb.h>

#include "index.h"

#define JT_SCRATCH_DIR_MAX 64

/* Makes a new directory /tmp/<prefix>-XXXXXX (its path goes to dir) and
 * opens a store in it. */
ix_env_t *jt_scratch_new(char dir[JT_SCRATCH_DIR_MAX], const char *prefix);

/* Opens the store in dir (again). */
ix_env_t *jt_scratch_open(const char *dir);

/* Closes env (NULL: nothing to close) and removes dir with what is in it. */
void jt_scratch_remove(ix_env_t *env, const char *dir);

/* Damages the store on purpose: closes *env, opens dir with LMDB itself,
 * runs edit on dbi `name` in one write transaction, commits, and opens
 * *env again. */
typedef void (*jt_raw_edit_fn)(MDB_txn *txn, MDB_dbi dbi, void *ctx);
void jt_scratch_raw_edit(ix_env_t **env, const char *dir, const char *name, jt_raw_edit_fn edit,
                         void *ctx);

#endif
