/* cmd_export.c - `jobmatch export`: every vacancy or worker as JSON Lines,
 * page after page of vacancy.list / worker.list, in the records' canonical
 * form, so that `jobmatch import` loads them back unchanged.
 *
 * A file is written beside its final name and renamed over it once every
 * page has arrived and is on disk: an export cut short leaves the previous
 * file, not half of a new one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* The largest page vacancy.list and worker.list give. */
#define EXPORT_PAGE 1000

typedef struct export_kind {
    const char *name, *op;
} export_kind_t;

static const export_kind_t kinds[] = {
    { "vacancies", "vacancy.list" },
    { "workers", "worker.list" },
};

static void
pack_page(msgpack_sbuffer *sb, const void *ctx, const char *cursor, size_t cursor_len)
{
    msgpack_packer pk;

    (void)ctx;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, cursor ? 2 : 1);
    cli_pack_str(&pk, "limit");
    msgpack_pack_int(&pk, EXPORT_PAGE);
    if (cursor) {
        cli_pack_str(&pk, "cursor");
        msgpack_pack_str(&pk, cursor_len);
        msgpack_pack_str_body(&pk, cursor, cursor_len);
    }
}

/* Flushes f and its data to the disk, then closes it. 0 or -1. */
static int
close_synced(FILE *f)
{
    int rc = fflush(f) == 0 && fsync(fileno(f)) == 0 ? 0 : -1;

    if (fclose(f) != 0)
        rc = -1;
    return rc;
}

int
cmd_export(cli_t *cli, int argc, char **argv)
{
    const export_kind_t *k = NULL;
    const char *path = argc == 3 ? argv[2] : "-";
    char *tmp = NULL;
    int rc;

    for (size_t i = 0; argc >= 2 && i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(argv[1], kinds[i].name) == 0)
            k = &kinds[i];
    if (k == NULL || argc > 3)
        return cli_usage("export vacancies|workers [FILE|-]");

    cli_t one_line = *cli;
    one_line.pretty = false;    /* JSON Lines: one record, one line */
    if (strcmp(path, "-") != 0) {
        size_t n = strlen(path) + sizeof ".XXXXXX";
        int fd;

        tmp = malloc(n);
        if (tmp == NULL)
            return cli_report(cli, JM_ENOMEM, NULL);
        snprintf(tmp, n, "%s.XXXXXX", path);
        fd = mkstemp(tmp);
        if (fd < 0 || (one_line.out = fdopen(fd, "w")) == NULL) {
            cli_error("output", "%s: %s", path, strerror(errno));
            if (fd >= 0) {
                close(fd);
                unlink(tmp);
            }
            free(tmp);
            return CLI_EXIT_USAGE;
        }
    }
    rc = cli_listing(&one_line, k->op, k->name, pack_page, NULL, NULL, true);
    if (tmp != NULL) {
        if (close_synced(one_line.out) != 0 && rc == CLI_EXIT_OK) {
            cli_error("output", "%s: %s", path, strerror(errno));
            rc = CLI_EXIT_IO;
        }
        if (rc == CLI_EXIT_OK && rename(tmp, path) != 0) {
            cli_error("output", "%s: %s", path, strerror(errno));
            rc = CLI_EXIT_IO;
        }
        if (rc != CLI_EXIT_OK)
            unlink(tmp);
        free(tmp);
    }
    return rc;
}
