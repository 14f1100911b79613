/* output.c - how the jobmatch tool talks to its user: JSON on stdout,
 * errors on stderr as "jobmatch: <code>: <message>", and the mapping from
 * library status to exit code. Also the small msgpack and file helpers the
 * commands share.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void
cli_error(const char *code, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "jobmatch: %s: ", code);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int
cli_usage(const char *fmt, ...)
{
    va_list ap;

    fputs("jobmatch: usage: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n(try `jobmatch help`)\n", stderr);
    return CLI_EXIT_USAGE;
}

int
cli_report(const cli_t *cli, int rc, const jm_reply_t *r)
{
    const char *msg = cli->client != NULL ? cli->client->errstr : "";

    switch (rc) {
    case JM_ESERVER:
        if (r != NULL)
            cli_error(r->error_code, "%s", r->error_message);
        else
            cli_error("error", "%s", msg);
        return CLI_EXIT_SERVER;
    case JM_EARG:
        cli_error("usage", "%s", msg);
        return CLI_EXIT_USAGE;
    case JM_EPROTO:
        cli_error("protocol", "%s", msg);
        return CLI_EXIT_IO;
    case JM_ENOMEM:
        cli_error("nomem", "%s", msg);
        return CLI_EXIT_IO;
    default:
        cli_error("io", "%s", msg);
        return CLI_EXIT_IO;
    }
}

int
cli_print(const cli_t *cli, const msgpack_object *o)
{
    char *s = jm_msgpack_to_json(o, cli->pretty);

    if (s == NULL) {
        cli_error("protocol", "the server's answer cannot be written as "
                  "JSON");
        return CLI_EXIT_SERVER;
    }
    FILE *out = cli->out ? cli->out : stdout;

    fputs(s, out);
    fputc('\n', out);
    free(s);
    return CLI_EXIT_OK;
}

int
cli_read_file(const char *path, char **data, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    size_t cap = 65536, n = 0, got;
    char *buf, *p;

    *data = NULL;
    *len = 0;
    if (f == NULL) {
        cli_error("input", "%s: %s", path, strerror(errno));
        return -1;
    }
    buf = malloc(cap);
    while (buf != NULL) {
        if (cap - n < 2) {
            p = realloc(buf, cap * 2);
            if (p == NULL)
                break;
            buf = p;
            cap *= 2;
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    if (buf == NULL || ferror(f) || !feof(f)) {
        cli_error("input", "%s: %s", path,
                  buf == NULL || !ferror(f) ? "out of memory" : "read error");
        free(buf);
        if (f != stdin)
            fclose(f);
        return -1;
    }
    if (f != stdin)
        fclose(f);
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

bool
cli_is_packed_map(const char *data, size_t len)
{
    unsigned char b;

    if (data == NULL || len == 0)
        return false;
    b = (unsigned char)data[0];
    return (b & 0xf0) == 0x80 || b == 0xde || b == 0xdf;
}

int
cli_pack_object(const char *json, msgpack_sbuffer *sb, char *err,
                size_t errlen)
{
    size_t start = sb->size;

    if (jm_json_to_msgpack(json, sb, err, errlen) != 0)
        return -1;
    if (!cli_is_packed_map(sb->data + start, sb->size - start)) {
        sb->size = start;
        snprintf(err, errlen, "not a JSON object");
        return -1;
    }
    return 0;
}

const msgpack_object *
cli_map_get(const msgpack_object *map, const char *key)
{
    size_t n = strlen(key);

    if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;

        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
            memcmp(k->via.str.ptr, key, n) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

void
cli_pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);

    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

/* ---- aligned tables ---------------------------------------------------- */

void
cli_table_init(cli_table_t *t, unsigned ncols, const char *const *head, const char *align)
{
    memset(t, 0, sizeof *t);
    t->ncols = ncols;
    t->head = head;
    t->align = align;
}

void
cli_table_row(cli_table_t *t, const char *const *cells)
{
    if (t->rows == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 16;
        char **nc = realloc(t->cells, ncap * t->ncols * sizeof *nc);
        if (!nc)
            return;   /* out of memory: the row is left out */
        t->cells = nc;
        t->cap = ncap;
    }
    for (unsigned i = 0; i < t->ncols; i++)
        t->cells[t->rows * t->ncols + i] = strdup(cells[i] ? cells[i] : "");
    t->rows++;
}

void
cli_table_print(cli_table_t *t)
{
    size_t width[CLI_TABLE_MAX_COLS] = {0};
    for (unsigned c = 0; c < t->ncols && c < CLI_TABLE_MAX_COLS; c++) {
        width[c] = strlen(t->head[c]);
        for (size_t r = 0; r < t->rows; r++) {
            const char *s = t->cells[r * t->ncols + c];
            size_t n = s ? strlen(s) : 0;
            width[c] = n > width[c] ? n : width[c];
        }
    }
    for (size_t r = 0; r <= t->rows; r++) {
        for (unsigned c = 0; c < t->ncols && c < CLI_TABLE_MAX_COLS; c++) {
            const char *s = r == 0 ? t->head[c] : t->cells[(r - 1) * t->ncols + c];
            bool right = t->align && t->align[c] == 'r';
            bool last = c + 1 == t->ncols;
            if (right)
                printf("%*s", (int)width[c], s ? s : "");
            else if (last)   /* no trailing blanks */
                printf("%s", s ? s : "");
            else
                printf("%-*s", (int)width[c], s ? s : "");
            if (!last)
                fputs("  ", stdout);
        }
        fputc('\n', stdout);
    }
}

void
cli_table_free(cli_table_t *t)
{
    for (size_t i = 0; i < t->rows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof *t);
}

void
cli_cell(char *buf, size_t len, const msgpack_object *o, int decimals)
{
    if (!o || o->type == MSGPACK_OBJECT_NIL)
        snprintf(buf, len, "-");
    else if (o->type == MSGPACK_OBJECT_STR)
        snprintf(buf, len, "%.*s", (int)o->via.str.size, o->via.str.ptr);
    else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        snprintf(buf, len, "%llu", (unsigned long long)o->via.u64);
    else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        snprintf(buf, len, "%lld", (long long)o->via.i64);
    else if (o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32)
        snprintf(buf, len, "%.*f", decimals, o->via.f64);
    else if (o->type == MSGPACK_OBJECT_BOOLEAN)
        snprintf(buf, len, "%s", o->via.boolean ? "true" : "false");
    else
        snprintf(buf, len, "?");
}

int
cli_call_reply(cli_t *cli, const char *op, const msgpack_sbuffer *args, jm_reply_t **out)
{
    *out = NULL;
    int rc = jm_call(cli->client, op, args ? args->data : NULL, args ? args->size : 0, out);
    if (rc != 0) {
        rc = cli_report(cli, rc, *out);
        jm_reply_free(*out);
        *out = NULL;
        return rc;
    }
    return 0;
}
