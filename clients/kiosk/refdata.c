/* refdata.c - reading the reference CSV files and searching them. */
#define _GNU_SOURCE
#include "refdata.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_FIELDS 4

/* Splits one CSV line (RFC 4180, no embedded line breaks) in place into at
 * most MAX_FIELDS fields. Returns the number of fields. */
static int
split_csv(char *line, char **fields)
{
    int n = 0;
    char *r = line;
    while (n < MAX_FIELDS) {
        char *w = r;
        fields[n++] = w;
        if (*r == '"') {
            r++;
            for (;;) {
                if (*r == '\0')
                    break;
                if (*r == '"' && r[1] == '"') {
                    *w++ = '"';
                    r += 2;
                } else if (*r == '"') {
                    r++;
                    break;
                } else {
                    *w++ = *r++;
                }
            }
        } else {
            while (*r && *r != ',')
                *w++ = *r++;
        }
        char sep = *r;
        *w = '\0';
        if (sep != ',')
            break;
        r++;
    }
    return n;
}

static int
cmp_entry(const void *a, const void *b)
{
    const kiosk_entry_t *x = a, *y = b;
    return strcmp(x->code, y->code);
}

static void
table_free(kiosk_table_t *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->rows[i].code);
        free(t->rows[i].name);
        free(t->rows[i].alias);
        free(t->rows[i].name_zh);
    }
    free(t->rows);
    t->rows = NULL;
    t->n = 0;
}

/* Reads FILE's rows: code in column code_col, name in name_col, alias in
 * alias_col (-1 for none). Of duplicate codes (the occupation list has a
 * few, data/README.md) one row is kept. */
static int
table_load(kiosk_table_t *t, const char *dir, const char *file, int code_col,
           int name_col, int alias_col, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 0;
    char *line = NULL;
    ssize_t len;
    int lineno = 0, rc = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        if (++lineno == 1)
            continue; /* header */
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        char *fields[MAX_FIELDS];
        int n = split_csv(line, fields);
        int need = code_col > name_col ? code_col : name_col;
        if (n <= need) {
            snprintf(err, errlen, "%s:%d: expected at least %d columns", path,
                     lineno, need + 1);
            rc = -1;
            break;
        }
        kiosk_entry_t *rows = realloc(t->rows, (t->n + 1) * sizeof *rows);
        if (!rows) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
            break;
        }
        t->rows = rows;
        kiosk_entry_t *e = &t->rows[t->n++];
        e->code = strdup(fields[code_col]);
        e->name = strdup(fields[name_col]);
        e->alias = alias_col >= 0 && n > alias_col ? strdup(fields[alias_col]) : NULL;
        e->name_zh = NULL;
    }
    free(line);
    fclose(f);
    if (rc == 0 && t->n == 0) {
        snprintf(err, errlen, "%s: no rows", path);
        rc = -1;
    }
    if (rc != 0) {
        table_free(t);
        return rc;
    }
    qsort(t->rows, t->n, sizeof *t->rows, cmp_entry);
    size_t out = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (out > 0 && strcmp(t->rows[out - 1].code, t->rows[i].code) == 0) {
            free(t->rows[i].code);
            free(t->rows[i].name);
            free(t->rows[i].alias);
            free(t->rows[i].name_zh);
            continue;
        }
        t->rows[out++] = t->rows[i];
    }
    t->n = out;
    return 0;
}

/* Gives the skills their Chinese names from DIR/skills_zh.csv, when the
 * file is there; a name for an unknown id is a mistake in the file. */
static int
load_skill_names(kiosk_refdata_t *rd, const char *dir, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/skills_zh.csv", dir);
    if (access(path, F_OK) != 0)
        return 0;
    kiosk_table_t names = {0};
    if (table_load(&names, dir, "skills_zh.csv", 0, 1, -1, err, errlen) != 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < names.n && rc == 0; i++) {
        kiosk_entry_t *e = (kiosk_entry_t *)refdata_find(&rd->skills, names.rows[i].code);
        if (!e) {
            snprintf(err, errlen, "%s: %s is not in skills.csv", path, names.rows[i].code);
            rc = -1;
        } else {
            e->name_zh = names.rows[i].name;
            names.rows[i].name = NULL;
        }
    }
    table_free(&names);
    return rc;
}

int
refdata_load(kiosk_refdata_t *rd, const char *dir, char *err, size_t errlen)
{
    memset(rd, 0, sizeof *rd);
    if (table_load(&rd->regions, dir, "cn_admin_divisions_mca_2024.csv", 0, 1, -1,
                   err, errlen) != 0 ||
        table_load(&rd->skills, dir, "skills.csv", 0, 1, -1, err, errlen) != 0 ||
        table_load(&rd->occupations, dir, "cn_occupation_classification_2022.csv",
                   1, 2, 3, err, errlen) != 0 ||
        load_skill_names(rd, dir, err, errlen) != 0) {
        refdata_free(rd);
        return -1;
    }
    return 0;
}

void
refdata_free(kiosk_refdata_t *rd)
{
    table_free(&rd->regions);
    table_free(&rd->skills);
    table_free(&rd->occupations);
}

const kiosk_entry_t *
refdata_find(const kiosk_table_t *t, const char *code)
{
    kiosk_entry_t key = {.code = (char *)code};
    return t->n ? bsearch(&key, t->rows, t->n, sizeof *t->rows, cmp_entry) : NULL;
}

const char *
refdata_occupation_name(const kiosk_refdata_t *rd, const char *code)
{
    static const char *const pad[] = {"", "-00-00-00", "", "", "-00-00", "", "",
                                      "-00", "", "", ""};
    size_t len = strlen(code);
    if (len > 10)
        return NULL;
    char full[16];
    snprintf(full, sizeof full, "%s%s", code, pad[len]);
    const kiosk_entry_t *e = refdata_find(&rd->occupations, full);
    return e ? e->name : NULL;
}

static int
is_leaf(const kiosk_entry_t *e)
{
    size_t len = strlen(e->code);
    return !(len == 10 && strcmp(e->code + 7, "-00") == 0);
}

/* 3 when s is text, 2 when it starts with it, 1 when it contains it,
 * else 0 (ASCII letters compare without case). */
static int
text_match(const char *s, const char *text)
{
    if (!s)
        return 0;
    if (strcasecmp(s, text) == 0)
        return 3;
    const char *p = strcasestr(s, text);
    return p == NULL ? 0 : p == s ? 2 : 1;
}

size_t
refdata_search(const kiosk_table_t *t, const char *text, int only_leaves,
               const kiosk_entry_t **out, size_t max)
{
    size_t n = 0;
    /* Three passes: names (or aliases, or codes) that are the text, then
     * those that start with it, then those that contain it anywhere. */
    for (int pass = 3; pass >= 1 && n < max; pass--) {
        for (size_t i = 0; i < t->n && n < max; i++) {
            const kiosk_entry_t *e = &t->rows[i];
            if (only_leaves && !is_leaf(e))
                continue;
            int m = text_match(e->name, text);
            int a = text_match(e->alias, text);
            int c = text_match(e->code, text);
            int z = text_match(e->name_zh, text);
            int best = m > a ? m : a;
            best = best > c ? best : c;
            best = best > z ? best : z;
            if (best == pass)
                out[n++] = e;
        }
    }
    return n;
}

const char *
refdata_display_name(const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s", name);
    size_t n = strlen(buf);
    static const char *const markers[] = {"L/S", "S", "L"};
    for (size_t i = 0; i < sizeof markers / sizeof *markers; i++) {
        size_t m = strlen(markers[i]);
        /* A marker follows Chinese text (a byte >= 0x80), never a word. */
        if (n > m && strcmp(buf + n - m, markers[i]) == 0 &&
            (unsigned char)buf[n - m - 1] >= 0x80) {
            buf[n - m] = '\0';
            break;
        }
    }
    return buf;
}
