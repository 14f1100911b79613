/* occupation.c - the classification's names and aliases, indexed by unit
 * unigrams and bigrams, and the ranking of occupations for free text. */
#include "occupation.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "message.h"

#define CODE_LEN 10
#define MAX_QUERY_UNITS 256
#define MAX_FORM_BYTES 1024

/* Boosts on top of the Dice share (0..1) of a form. */
#define BOOST_EXACT 1.0
#define BOOST_FORM_IN_TEXT 0.6   /* times the form's share of the text */
#define BOOST_TEXT_IN_FORM 0.4   /* times the text's share of the form */
/* What the other forms of an occupation add to its best one's score. */
#define VOTE_WEIGHT 0.05
#define VOTE_MAX 0.3
/* Codes above the detail level name groups: they win only clearly. */
#define GROUP_LEVEL_FACTOR 0.99

typedef struct occupation {
    char code[CODE_LEN + 1];
    char *name;
    int level;                  /* the deepest level the code is listed at */
    uint32_t last_form;         /* its latest form + 1; 0 = none yet */
} occupation_t;

typedef struct form {
    uint32_t occ;
    uint32_t n_units;
    uint64_t *units;
    double weight;              /* sum of its distinct terms' IDF */
    uint32_t prev;              /* the occupation's form before this one + 1; 0 = none */
} form_t;

typedef struct posting {
    uint64_t term;
    uint32_t form;
} posting_t;

struct en_occupations {
    occupation_t *occs;
    size_t n_occs, cap_occs;
    uint32_t *slots;            /* open addressing by code: index + 1; 0 = free */
    size_t n_slots;             /* a power of two, more than twice n_occs */
    form_t *forms;
    size_t n_forms, cap_forms;
    posting_t *postings;
    size_t n_postings;
};

/* ---- text into units and terms ---------------------------------------- */

static uint64_t
mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* Decodes one code point at s[*i] (valid UTF-8 assumed; a stray byte is
 * taken as itself). */
static uint32_t
next_cp(const unsigned char *s, size_t len, size_t *i)
{
    uint32_t c = s[*i];
    size_t n = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    if (*i + n > len || c < 0xc0) {
        (*i)++;
        return c;
    }
    uint32_t cp = n == 2 ? c & 0x1f : n == 3 ? c & 0x0f : c & 0x07;
    for (size_t k = 1; k < n; k++)
        cp = cp << 6 | (s[*i + k] & 0x3f);
    *i += n;
    return cp;
}

static bool
is_word_char(uint32_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '#';
}

static bool
is_separator(uint32_t c)
{
    if (c < 0x80)
        return !is_word_char(c);
    return (c >= 0x2000 && c <= 0x206f) ||   /* general punctuation */
           (c >= 0x3000 && c <= 0x303f) ||   /* CJK punctuation */
           (c >= 0xfe30 && c <= 0xfe4f) || c == 0x00b7 || c == 0x30fb;
}

/* Cuts text into units. A unit is a lower-case ASCII word (hashed, with
 * the top bit set) or one other code point; a separator starts a new
 * segment, recorded by setting bit 62 on the unit after it. */
#define UNIT_WORD (1ull << 63)
#define UNIT_BREAK (1ull << 62)

static size_t
text_units(const char *text, size_t len, uint64_t *units, size_t max)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t n = 0, i = 0;
    bool brk = false;
    uint64_t word = 0;
    bool in_word = false;
    for (;;) {
        bool end = i >= len;
        uint32_t c = end ? ' ' : next_cp(s, len, &i);
        if (c >= 0xff01 && c <= 0xff5e)          /* full-width ASCII */
            c -= 0xfee0;
        if (c >= 'A' && c <= 'Z')
            c += 32;
        if (c < 0x80 && is_word_char(c)) {
            word = in_word ? mix64(word ^ c) : mix64(c + 0x9e3779b97f4a7c15ull);
            in_word = true;
            continue;
        }
        if (in_word) {
            if (n == max)
                break;
            units[n++] = ((word >> 2) | UNIT_WORD) | (brk ? UNIT_BREAK : 0);
            brk = false;
            in_word = false;
        }
        if (end || n == max)
            break;
        if (is_separator(c)) {
            brk = n > 0;
        } else {
            units[n++] = c | (brk ? UNIT_BREAK : 0);
            brk = false;
        }
    }
    return n;
}

static uint64_t
unit_of(uint64_t u)
{
    return u & ~UNIT_BREAK;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The distinct terms of a unit sequence: every unigram and every bigram
 * that does not cross a separator. Returns how many, sorted. */
static size_t
unit_terms(const uint64_t *units, size_t n, uint64_t *terms)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        terms[k++] = mix64(unit_of(units[i]));
        if (i + 1 < n && !(units[i + 1] & UNIT_BREAK))
            terms[k++] = mix64(mix64(unit_of(units[i])) ^ (unit_of(units[i + 1]) + 1));
    }
    qsort(terms, k, sizeof *terms, cmp_u64);
    size_t d = 0;
    for (size_t i = 0; i < k; i++)
        if (d == 0 || terms[d - 1] != terms[i])
            terms[d++] = terms[i];
    return d;
}

/* True when needle's units occur in hay, in order and adjacent. */
static bool
units_contain(const uint64_t *hay, size_t nh, const uint64_t *needle, size_t nn)
{
    if (nn == 0 || nn > nh)
        return false;
    for (size_t i = 0; i + nn <= nh; i++) {
        size_t k = 0;
        while (k < nn && unit_of(hay[i + k]) == unit_of(needle[k]))
            k++;
        if (k == nn)
            return true;
    }
    return false;
}

/* ---- loading ---------------------------------------------------------- */

/* The classification marks digital (S) and green (L) occupations with a
 * trailing letter: "通信工程技术人员S", "...L/S". Not part of the name. */
static size_t
strip_markers(const char *s, size_t len)
{
    static const char *const marks[] = {"L/S", "S", "L"};
    for (size_t m = 0; m < 3; m++) {
        size_t ml = strlen(marks[m]);
        if (len > ml && memcmp(s + len - ml, marks[m], ml) == 0 &&
            (unsigned char)s[len - ml - 1] >= 0x80)
            return len - ml;
    }
    return len;
}

static bool
code_valid(const char *s, size_t len)
{
    if (len != CODE_LEN)
        return false;
    for (size_t i = 0; i < len; i++) {
        bool dash = i == 1 || i == 4 || i == 7;
        if (dash ? s[i] != '-' : (s[i] < '0' || s[i] > '9'))
            return false;
    }
    return true;
}

/* The slot of code in occ->slots: where it is, or the free one where it
 * would go. */
static size_t
code_slot(const en_occupations_t *occ, const char *code)
{
    size_t h = (size_t)mix64(0);
    for (const char *p = code; *p; p++)
        h = (size_t)mix64(h ^ (unsigned char)*p);
    size_t mask = occ->n_slots - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        uint32_t s = occ->slots[i];
        if (s == 0 || strcmp(occ->occs[s - 1].code, code) == 0)
            return i;
    }
}

/* The index of the occupation with code, or n_occs. */
static size_t
find_code(const en_occupations_t *occ, const char *code)
{
    if (occ->n_slots == 0)
        return occ->n_occs;
    uint32_t s = occ->slots[code_slot(occ, code)];
    return s ? s - 1 : occ->n_occs;
}

/* Makes room in the code table for one more occupation. */
static int
grow_slots(en_occupations_t *occ)
{
    if (2 * (occ->n_occs + 1) < occ->n_slots)
        return 0;
    size_t n = occ->n_slots ? occ->n_slots * 2 : 4096;
    uint32_t *slots = calloc(n, sizeof *slots);
    if (!slots)
        return -1;
    free(occ->slots);
    occ->slots = slots;
    occ->n_slots = n;
    for (size_t i = 0; i < occ->n_occs; i++)
        occ->slots[code_slot(occ, occ->occs[i].code)] = (uint32_t)i + 1;
    return 0;
}

static int
add_occupation(en_occupations_t *occ, const char *code, int level, const char *name,
               size_t name_len, uint32_t *index)
{
    size_t i = find_code(occ, code);
    if (i < occ->n_occs) {
        if (level > occ->occs[i].level)
            occ->occs[i].level = level;
        *index = (uint32_t)i;
        return 0;
    }
    if (grow_slots(occ) != 0)
        return -1;
    if (occ->n_occs == occ->cap_occs) {
        size_t cap = occ->cap_occs ? occ->cap_occs * 2 : 1024;
        occupation_t *p = realloc(occ->occs, cap * sizeof *p);
        if (!p)
            return -1;
        occ->occs = p;
        occ->cap_occs = cap;
    }
    occupation_t *o = &occ->occs[occ->n_occs];
    memcpy(o->code, code, CODE_LEN + 1);
    o->level = level;
    o->last_form = 0;
    o->name = strndup(name, strip_markers(name, name_len));
    if (!o->name)
        return -1;
    *index = (uint32_t)occ->n_occs++;
    occ->slots[code_slot(occ, code)] = *index + 1;
    return 0;
}

static int
add_form(en_occupations_t *occ, uint32_t index, const char *text, size_t len)
{
    len = strip_markers(text, len);
    uint64_t units[MAX_QUERY_UNITS];
    size_t n = text_units(text, len, units, MAX_QUERY_UNITS);
    if (n == 0)
        return 0;
    /* The same form twice: only the occupation's own forms can be. */
    for (uint32_t f = occ->occs[index].last_form; f; f = occ->forms[f - 1].prev) {
        const form_t *o = &occ->forms[f - 1];
        if (o->n_units == n && units_contain(o->units, o->n_units, units, n))
            return 0;
    }
    if (occ->n_forms == occ->cap_forms) {
        size_t cap = occ->cap_forms ? occ->cap_forms * 2 : 4096;
        form_t *p = realloc(occ->forms, cap * sizeof *p);
        if (!p)
            return -1;
        occ->forms = p;
        occ->cap_forms = cap;
    }
    form_t *f = &occ->forms[occ->n_forms];
    f->units = malloc(n * sizeof *f->units);
    if (!f->units)
        return -1;
    memcpy(f->units, units, n * sizeof *units);
    f->n_units = (uint32_t)n;
    f->occ = index;
    f->weight = 0;
    f->prev = occ->occs[index].last_form;
    occ->occs[index].last_form = (uint32_t)++occ->n_forms;
    return 0;
}

/* Adds each comma-separated alias of list as a form of occupation index. */
static int
add_aliases(en_occupations_t *occ, uint32_t index, const char *list, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || list[i] == ',') {
            if (i > start && add_form(occ, index, list + start, i - start) != 0)
                return -1;
            start = i + 1;
        }
    }
    return 0;
}

typedef struct csv {
    const char *p, *end;
    unsigned line;
} csv_t;

/* Reads the next field into buf (NUL-terminated). Returns 1 when the
 * record goes on, 0 at its end, -1 when malformed or too long. */
static int
csv_field(csv_t *c, char *buf, size_t cap, size_t *len)
{
    size_t n = 0;
    bool quoted = c->p < c->end && *c->p == '"';
    if (quoted)
        c->p++;
    for (;;) {
        if (c->p >= c->end) {
            if (quoted)
                return -1;
            break;
        }
        char ch = *c->p;
        if (quoted && ch == '"') {
            if (c->p + 1 < c->end && c->p[1] == '"') {
                c->p++;
            } else {
                c->p++;
                quoted = false;
                continue;
            }
        } else if (!quoted && (ch == ',' || ch == '\n' || ch == '\r')) {
            break;
        } else if (ch == '\n') {
            c->line++;
        }
        if (n + 1 >= cap)
            return -1;
        buf[n++] = ch;
        c->p++;
    }
    buf[n] = '\0';
    *len = n;
    if (c->p < c->end && *c->p == ',') {
        c->p++;
        return 1;
    }
    if (c->p < c->end && *c->p == '\r')
        c->p++;
    if (c->p < c->end && *c->p == '\n')
        c->p++;
    c->line++;
    return 0;
}

/* Reads one record of exactly n fields into fields[i] (each cap bytes).
 * Returns 1, 0 at the end of the input, or -1. */
static int
csv_record(csv_t *c, size_t n, char fields[][MAX_FORM_BYTES * 8], size_t *lens)
{
    if (c->p >= c->end)
        return 0;
    for (size_t i = 0; i < n; i++) {
        int rc = csv_field(c, fields[i], sizeof fields[i], &lens[i]);
        if (rc < 0 || (rc == 1) != (i + 1 < n))
            return -1;
    }
    return 1;
}

static char *
read_file(const char *path, size_t *len, char *why, size_t why_len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, why_len, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (cap - n < 65536) {
            char *p = realloc(buf, cap + 1048576);
            if (!p) {
                free(buf);
                fclose(f);
                snprintf(why, why_len, "%s: out of memory", path);
                return NULL;
            }
            buf = p;
            cap += 1048576;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    bool failed = ferror(f);
    fclose(f);
    if (failed) {
        free(buf);
        snprintf(why, why_len, "cannot read %s", path);
        return NULL;
    }
    *len = n;
    return buf;
}

/* Sorts postings by term, then form. They are made in form order, so a
 * stable sort by term alone does it: a radix sort, a byte at a time, at
 * every start of the daemon (a comparison sort took most of the start). */
static int
sort_postings(posting_t *p, size_t n)
{
    posting_t *tmp = malloc((n ? n : 1) * sizeof *tmp);
    if (!tmp)
        return -1;
    for (unsigned shift = 0; shift < 64; shift += 8) {
        size_t count[257] = {0};
        for (size_t i = 0; i < n; i++)
            count[((p[i].term >> shift) & 0xff) + 1]++;
        if (count[((p[0].term >> shift) & 0xff) + 1] == n)
            continue;   /* every term has this byte alike */
        for (int b = 0; b < 256; b++)
            count[b + 1] += count[b];
        for (size_t i = 0; i < n; i++)
            tmp[count[(p[i].term >> shift) & 0xff]++] = p[i];
        memcpy(p, tmp, n * sizeof *p);
    }
    free(tmp);
    return 0;
}

/* Number of forms (postings) of the term starting at postings[i]. */
static size_t
run_length(const en_occupations_t *occ, size_t i)
{
    size_t j = i;
    while (j < occ->n_postings && occ->postings[j].term == occ->postings[i].term)
        j++;
    return j - i;
}

static double
idf(const en_occupations_t *occ, size_t df)
{
    return log(1.0 + (double)occ->n_forms / (double)(df ? df : 1));
}

/* Builds the postings and the forms' weights from the forms. */
static int
build_index(en_occupations_t *occ)
{
    free(occ->postings);
    occ->postings = NULL;
    occ->n_postings = 0;
    size_t cap = 0;
    for (size_t f = 0; f < occ->n_forms; f++)
        cap += 2 * occ->forms[f].n_units;
    occ->postings = malloc((cap ? cap : 1) * sizeof *occ->postings);
    uint64_t *terms = malloc(2 * MAX_QUERY_UNITS * sizeof *terms);
    if (!occ->postings || !terms) {
        free(terms);
        return -1;
    }
    for (size_t f = 0; f < occ->n_forms; f++) {
        size_t k = unit_terms(occ->forms[f].units, occ->forms[f].n_units, terms);
        for (size_t i = 0; i < k; i++)
            occ->postings[occ->n_postings++] = (posting_t){terms[i], (uint32_t)f};
    }
    free(terms);
    if (occ->n_postings > 0 && sort_postings(occ->postings, occ->n_postings) != 0)
        return -1;
    for (size_t f = 0; f < occ->n_forms; f++)
        occ->forms[f].weight = 0;
    for (size_t i = 0; i < occ->n_postings;) {
        size_t df = run_length(occ, i);
        double w = idf(occ, df);
        for (size_t k = i; k < i + df; k++)
            occ->forms[occ->postings[k].form].weight += w;
        i += df;
    }
    return 0;
}

en_occupations_t *
en_occupations_load(const char *path, char *why, size_t why_len)
{
    size_t len;
    char *text = read_file(path, &len, why, why_len);
    if (!text)
        return NULL;
    en_occupations_t *occ = calloc(1, sizeof *occ);
    char (*fields)[MAX_FORM_BYTES * 8] = malloc(4 * sizeof *fields);
    size_t lens[4];
    csv_t c = {text, text + len, 1};
    if (!occ || !fields) {
        snprintf(why, why_len, "%s: out of memory", path);
        goto fail;
    }
    if (!pr_utf8_valid(text, len)) {
        snprintf(why, why_len, "%s: not UTF-8 text", path);
        goto fail;
    }
    if (csv_record(&c, 4, fields, lens) != 1 || strcmp(fields[0], "level") != 0 ||
        strcmp(fields[1], "code") != 0 || strcmp(fields[2], "name") != 0 ||
        strcmp(fields[3], "alias") != 0) {
        snprintf(why, why_len, "%s: the first line must be the header level,code,name,alias",
                 path);
        goto fail;
    }
    for (;;) {
        unsigned line = c.line;
        int rc = csv_record(&c, 4, fields, lens);
        if (rc == 0)
            break;
        uint32_t index;
        if (rc < 0 || lens[0] != 1 || fields[0][0] < '1' || fields[0][0] > '4' ||
            !code_valid(fields[1], lens[1]) || lens[2] == 0) {
            snprintf(why, why_len,
                     "%s:%u: expected level (1-4),code (N-NN-NN-NN),name,alias", path, line);
            goto fail;
        }
        if (add_occupation(occ, fields[1], fields[0][0] - '0', fields[2], lens[2], &index) != 0 ||
            add_form(occ, index, fields[2], lens[2]) != 0 ||
            add_aliases(occ, index, fields[3], lens[3]) != 0) {
            snprintf(why, why_len, "%s: out of memory", path);
            goto fail;
        }
    }
    if (occ->n_occs == 0) {
        snprintf(why, why_len, "%s: no occupations", path);
        goto fail;
    }
    if (build_index(occ) != 0) {
        snprintf(why, why_len, "%s: out of memory", path);
        goto fail;
    }
    free(fields);
    free(text);
    return occ;
fail:
    free(fields);
    free(text);
    en_occupations_free(occ);
    return NULL;
}

int
en_occupations_add_aliases(en_occupations_t *occ, const char *path, char *why, size_t why_len)
{
    size_t len;
    char *text = read_file(path, &len, why, why_len);
    if (!text)
        return -1;
    char (*fields)[MAX_FORM_BYTES * 8] = malloc(2 * sizeof *fields);
    size_t lens[2];
    csv_t c = {text, text + len, 1};
    int result = -1;
    if (!fields || !pr_utf8_valid(text, len) || csv_record(&c, 2, fields, lens) != 1 ||
        strcmp(fields[0], "code") != 0 || strcmp(fields[1], "alias") != 0) {
        snprintf(why, why_len, "%s: expected UTF-8 CSV with the header code,alias", path);
        goto done;
    }
    for (;;) {
        unsigned line = c.line;
        int rc = csv_record(&c, 2, fields, lens);
        if (rc == 0)
            break;
        size_t i = rc > 0 ? find_code(occ, fields[0]) : occ->n_occs;
        if (rc < 0 || i == occ->n_occs) {
            snprintf(why, why_len, "%s:%u: expected a loaded code and an alias", path, line);
            goto done;
        }
        if (add_form(occ, (uint32_t)i, fields[1], lens[1]) != 0) {
            snprintf(why, why_len, "%s: out of memory", path);
            goto done;
        }
    }
    if (build_index(occ) != 0) {
        snprintf(why, why_len, "%s: out of memory", path);
        goto done;
    }
    result = 0;
done:
    free(fields);
    free(text);
    return result;
}

void
en_occupations_free(en_occupations_t *occ)
{
    if (!occ)
        return;
    for (size_t i = 0; i < occ->n_occs; i++)
        free(occ->occs[i].name);
    for (size_t i = 0; i < occ->n_forms; i++)
        free(occ->forms[i].units);
    free(occ->occs);
    free(occ->slots);
    free(occ->forms);
    free(occ->postings);
    free(occ);
}

size_t
en_occupations_count(const en_occupations_t *occ)
{
    return occ->n_occs;
}

const char *
en_occupations_name(const en_occupations_t *occ, const char *code)
{
    size_t i = find_code(occ, code);
    return i < occ->n_occs ? occ->occs[i].name : NULL;
}

/* ---- search ----------------------------------------------------------- */

/* First posting of term, or n_postings. */
static size_t
find_term(const en_occupations_t *occ, uint64_t term)
{
    size_t lo = 0, hi = occ->n_postings;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (occ->postings[mid].term < term)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool
ranks_before(const en_suggestion_t *a, const en_suggestion_t *b)
{
    if (a->score != b->score)
        return a->score > b->score;
    return strcmp(a->code, b->code) < 0;
}

size_t
en_occupations_suggest(const en_occupations_t *occ, const char *text, size_t len,
                       en_suggestion_t *out, size_t limit)
{
    uint64_t units[MAX_QUERY_UNITS], terms[2 * MAX_QUERY_UNITS];
    size_t n_units = text_units(text, len, units, MAX_QUERY_UNITS);
    if (n_units == 0 || limit == 0)
        return 0;
    size_t n_terms = unit_terms(units, n_units, terms);

    double *shared = calloc(occ->n_forms, sizeof *shared);
    double *best = calloc(occ->n_occs, sizeof *best);
    double *votes = calloc(occ->n_occs, sizeof *votes);
    uint32_t *touched = malloc(occ->n_forms * sizeof *touched);
    size_t n_touched = 0, found = 0;
    if (!shared || !best || !votes || !touched)
        goto done;

    double query_weight = 0;
    for (size_t t = 0; t < n_terms; t++) {
        size_t first = find_term(occ, terms[t]);
        size_t df = first < occ->n_postings && occ->postings[first].term == terms[t]
                        ? run_length(occ, first) : 0;
        double w = idf(occ, df);
        query_weight += w;
        for (size_t k = first; k < first + df; k++) {
            uint32_t f = occ->postings[k].form;
            if (shared[f] == 0)
                touched[n_touched++] = f;
            shared[f] += w;
        }
    }

    for (size_t i = 0; i < n_touched; i++) {
        const form_t *f = &occ->forms[touched[i]];
        double score = 2 * shared[touched[i]] / (query_weight + f->weight);
        if (f->n_units == n_units && units_contain(units, n_units, f->units, f->n_units))
            score += BOOST_EXACT;
        else if (units_contain(units, n_units, f->units, f->n_units))
            score += BOOST_FORM_IN_TEXT * (double)f->n_units / (double)n_units;
        else if (units_contain(f->units, f->n_units, units, n_units))
            score += BOOST_TEXT_IN_FORM * (double)n_units / (double)f->n_units;
        if (occ->occs[f->occ].level < 4)
            score *= GROUP_LEVEL_FACTOR;
        /* The best form counts in full, the others a little each: an
         * occupation many forms point to is the likelier one. */
        if (score > best[f->occ]) {
            votes[f->occ] += VOTE_WEIGHT * best[f->occ];
            best[f->occ] = score;
        } else {
            votes[f->occ] += VOTE_WEIGHT * score;
        }
    }
    for (size_t i = 0; i < n_touched; i++) {
        uint32_t o = occ->forms[touched[i]].occ;
        best[o] += votes[o] > VOTE_MAX ? VOTE_MAX : votes[o];
        votes[o] = 0;
    }

    /* Insertion into the top `limit`, walking the touched forms' codes. */
    for (size_t i = 0; i < n_touched; i++) {
        uint32_t o = occ->forms[touched[i]].occ;
        if (best[o] <= 0)
            continue;
        en_suggestion_t s = {occ->occs[o].code, occ->occs[o].name, best[o]};
        best[o] = 0;   /* each code once */
        if (found == limit && !ranks_before(&s, &out[found - 1]))
            continue;
        size_t at = found < limit ? found++ : limit - 1;
        while (at > 0 && ranks_before(&s, &out[at - 1])) {
            out[at] = out[at - 1];
            at--;
        }
        out[at] = s;
    }
done:
    free(shared);
    free(best);
    free(votes);
    free(touched);
    return found;
}
