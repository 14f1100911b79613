/* scratch.c - an index store in a temporary directory, for unit tests. */
#define _GNU_SOURCE  /* mkdtemp */
#include "scratch.h"

#include <stdio.h>
#include <stdlib.h>

#include <criterion/criterion.h>

#include "files.h"

ix_env_t *
jt_scratch_new(char dir[JT_SCRATCH_DIR_MAX], const char *prefix)
{
    snprintf(dir, JT_SCRATCH_DIR_MAX, "/tmp/%s-XXXXXX", prefix);
    cr_assert_not_null(mkdtemp(dir), "mkdtemp %s", dir);
    return jt_scratch_open(dir);
}

ix_env_t *
jt_scratch_open(const char *dir)
{
    ix_options_t o = {.map_size = 64 << 20, .sync = IX_SYNC_NONE};
    ix_env_t *env;
    cr_assert_eq(ix_open(dir, &o, &env), 0, "cannot open a store in %s", dir);
    return env;
}

void
jt_scratch_remove(ix_env_t *env, const char *dir)
{
    if (env)
        ix_close(env);
    jt_remove_tree(dir);
}

void
jt_scratch_raw_edit(ix_env_t **env, const char *dir, const char *name, jt_raw_edit_fn edit,
                    void *ctx)
{
    ix_close(*env);
    *env = NULL;
    MDB_env *e;
    MDB_txn *txn;
    MDB_dbi dbi;
    cr_assert_eq(mdb_env_create(&e), 0);
    mdb_env_set_maxdbs(e, 32);
    cr_assert_eq(mdb_env_open(e, dir, 0, 0664), 0);
    cr_assert_eq(mdb_txn_begin(e, NULL, 0, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, name, 0, &dbi), 0, "no dbi %s", name);
    edit(txn, dbi, ctx);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(e);
    *env = jt_scratch_open(dir);
}
