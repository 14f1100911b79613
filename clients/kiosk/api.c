/* api.c - the kiosk's JSON API: it checks what the page sends, asks
 * jobmatchd (as a kiosk) and adds the names a person reads. */
#define _GNU_SOURCE
#include "kiosk.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "files.h"

#define MAX_BODY 16384
#define MAX_SUGGEST 20
#define DEFAULT_SUGGEST 8
#define MAX_MATCHES 50
#define DEFAULT_MATCHES 10
#define CHART_GROUPS 12

/* ---- replies ------------------------------------------------------------ */

static void
reply_json(struct evhttp_request *req, int status, json_t *body)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "application/json; charset=utf-8");
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text) {
        evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
        return;
    }
    evbuffer_add(evhttp_request_get_output_buffer(req), text, strlen(text));
    free(text);
    const char *reason = status == 200   ? "OK"
                         : status == 400 ? "Bad Request"
                         : status == 404 ? "Not Found"
                         : status == 405 ? "Method Not Allowed"
                         : status == 413 ? "Payload Too Large"
                         : status == 502 ? "Bad Gateway"
                         : status == 503 ? "Service Unavailable"
                                         : "Error";
    evhttp_send_reply(req, status, reason, NULL);
}

/* {"error": {"code", "message", "field"?}}: field names the input at
 * fault, so the page can point at it. */
static void
reply_error(struct evhttp_request *req, int status, const char *code,
            const char *field, const char *message)
{
    json_t *e = json_pack("{s:s, s:s}", "code", code, "message", message);
    if (field)
        json_object_set_new(e, "field", json_string(field));
    reply_json(req, status, json_pack("{s:o}", "error", e));
}

/* The daemon's failure as the page should see it: unreachable or a role
 * problem is 503 (the kiosk is out of service), a refused argument 400,
 * anything else 502. */
static void
reply_upstream(struct evhttp_request *req, int rc, const upstream_error_t *err)
{
    int status = rc == UP_DOWN || rc == UP_ROLE || strcmp(err->code, "unauthorized") == 0 ||
                         strcmp(err->code, "overloaded") == 0
                     ? 503
                 : strcmp(err->code, "bad_request") == 0 ? 400
                                                         : 502;
    reply_error(req, status, err->code, NULL, err->message);
}

/* ---- names -------------------------------------------------------------- */

/* "广东省 深圳市 南山区" for 440305: the province, the prefecture (when it
 * has a row) and the code's own name. */
static json_t *
region_label(const kiosk_refdata_t *rd, const char *code)
{
    if (strlen(code) != 6)
        return json_null();
    char buf[512] = "", part[8];
    size_t len = 0;
    const char *pads[] = {"0000", "00"};
    for (int level = 0; level < 2; level++) {
        snprintf(part, sizeof part, "%.*s%s", 2 + 2 * level, code, pads[level]);
        const kiosk_entry_t *e = strcmp(part, code) ? refdata_find(&rd->regions, part) : NULL;
        if (e)
            len += (size_t)snprintf(buf + len, sizeof buf - len, "%s ", e->name);
    }
    const kiosk_entry_t *self = refdata_find(&rd->regions, code);
    if (self)
        snprintf(buf + len, sizeof buf - len, "%s", self->name);
    else if (len > 0)
        buf[len - 1] = '\0';
    return buf[0] ? json_string(buf) : json_null();
}

static json_t *
occupation_label(const kiosk_refdata_t *rd, const char *code)
{
    const char *name = code ? refdata_occupation_name(rd, code) : NULL;
    char buf[512];
    return name ? json_string(refdata_display_name(name, buf, sizeof buf)) : json_null();
}

/* ---- query strings ------------------------------------------------------ */

typedef struct query {
    struct evkeyvalq kv;
} query_t;

static void
query_parse(struct evhttp_request *req, query_t *q)
{
    TAILQ_INIT(&q->kv);
    const char *s = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    if (s && evhttp_parse_query_str(s, &q->kv) != 0) {
        evhttp_clear_headers(&q->kv);
        TAILQ_INIT(&q->kv);
    }
}

/* An integer parameter in lo..hi, def when absent; -1 on a bad value. */
static long
query_int(query_t *q, const char *name, long lo, long hi, long def)
{
    const char *v = evhttp_find_header(&q->kv, name);
    if (!v || !*v)
        return def;
    char *end;
    long n = strtol(v, &end, 10);
    return *end || n < lo || n > hi ? -1 : n;
}

/* ---- GET /api/status ---------------------------------------------------- */

static void
api_status(kiosk_t *k, struct evhttp_request *req)
{
    upstream_error_t err;
    int rc = upstream_check(k->up, &err);
    if (rc != UP_OK) {
        reply_upstream(req, rc, &err);
        return;
    }
    reply_json(req, 200, json_pack("{s:s, s:s}", "daemon", "up", "role", "kiosk"));
}

/* ---- GET /api/regions --------------------------------------------------- */

static void
api_regions(kiosk_t *k, struct evhttp_request *req)
{
    if (!k->regions_json) {
        json_t *list = json_array();
        for (size_t i = 0; i < k->rd.regions.n; i++)
            json_array_append_new(list, json_pack("[s,s]", k->rd.regions.rows[i].code,
                                                  k->rd.regions.rows[i].name));
        json_t *body = json_pack("{s:o}", "regions", list);
        k->regions_json = json_dumps(body, JSON_COMPACT);
        json_decref(body);
    }
    reply_json(req, 200, json_loads(k->regions_json, 0, NULL));
}

/* ---- GET /api/skills ---------------------------------------------------- */

static int
text_param(struct evhttp_request *req, query_t *q, const char **text, long *limit)
{
    *text = evhttp_find_header(&q->kv, "q");
    if (!*text)
        *text = "";
    if (strlen(*text) > 100) {
        reply_error(req, 400, "bad_request", "q", "q: at most 100 bytes");
        return -1;
    }
    *limit = query_int(q, "limit", 1, MAX_SUGGEST, DEFAULT_SUGGEST);
    if (*limit < 0) {
        reply_error(req, 400, "bad_request", "limit", "limit: must be 1 to 20");
        return -1;
    }
    return 0;
}

static void
api_skills(kiosk_t *k, struct evhttp_request *req, query_t *q)
{
    const char *text;
    long limit;
    if (text_param(req, q, &text, &limit) != 0)
        return;
    const kiosk_entry_t *found[MAX_SUGGEST];
    size_t n = *text ? refdata_search(&k->rd.skills, text, 0, found, (size_t)limit) : 0;
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, json_pack("{s:s, s:s, s:s*}", "id", found[i]->code, "name",
                                              found[i]->name, "name_zh", found[i]->name_zh));
    reply_json(req, 200, json_pack("{s:o}", "skills", list));
}

/* ---- GET /api/occupations ----------------------------------------------- */

/* Suggestions from the kiosk's own copy of the classification, for a daemon
 * without occupation.suggest (or one that is down): names and aliases that
 * start with the text, then those that contain it. */
static json_t *
local_suggestions(kiosk_t *k, const char *text, long limit)
{
    const kiosk_entry_t *found[MAX_SUGGEST];
    size_t n = refdata_search(&k->rd.occupations, text, 1, found, (size_t)limit);
    json_t *list = json_array();
    char buf[512];
    for (size_t i = 0; i < n; i++) {
        const char *name = refdata_display_name(found[i]->name, buf, sizeof buf);
        double score = strcasecmp(name, text) == 0                      ? 1.0
                       : strncasecmp(name, text, strlen(text)) == 0 ? 0.8
                                                                       : 0.5;
        json_array_append_new(list, json_pack("{s:s, s:s, s:f}", "code", found[i]->code,
                                              "name", name, "score", score));
    }
    return list;
}

static void
api_occupations(kiosk_t *k, struct evhttp_request *req, query_t *q)
{
    const char *text;
    long limit;
    if (text_param(req, q, &text, &limit) != 0)
        return;
    if (!*text) {
        reply_json(req, 200, json_pack("{s:[], s:s}", "suggestions", "source", "kiosk"));
        return;
    }
    json_t *args = json_pack("{s:s, s:i}", "text", text, "limit", (json_int_t)limit);
    json_t *res = NULL;
    upstream_error_t err;
    int rc = upstream_call(k->up, "occupation.suggest", args, &res, &err);
    json_decref(args);
    json_t *list = rc == UP_OK ? json_object_get(res, "suggestions") : NULL;
    if (json_is_array(list)) {
        /* The daemon's names may carry the classification's markers. */
        json_t *out = json_array();
        size_t i;
        json_t *s;
        json_array_foreach(list, i, s) {
            const char *full = json_string_value(json_object_get(s, "code"));
            if (!full)
                continue;
            /* A group's code ("6-31-00-00") as a profile's desired
             * occupation would be a code no vacancy has; its prefix
             * ("6-31") stands for the whole group. */
            char code[16];
            snprintf(code, sizeof code, "%s", full);
            for (size_t len = strlen(code); len > 1 && len >= 4 && strcmp(code + len - 3, "-00") == 0;
                 len -= 3)
                code[len - 3] = '\0';
            json_t *name = occupation_label(&k->rd, code);
            if (json_is_null(name)) {
                json_decref(name);
                name = json_incref(json_object_get(s, "name"));
            }
            json_array_append_new(out, json_pack("{s:s, s:o, s:O}", "code", code, "name",
                                                 name ? name : json_null(), "score",
                                                 json_object_get(s, "score")));
        }
        json_decref(res);
        reply_json(req, 200, json_pack("{s:o, s:s}", "suggestions", out, "source", "daemon"));
        return;
    }
    json_decref(res);
    if (rc == UP_REFUSED && strcmp(err.code, "bad_request") == 0) {
        reply_upstream(req, rc, &err);
        return;
    }
    /* unknown_op (a daemon older than occupation.suggest), or no daemon:
     * the kiosk's own list still lets the person choose. */
    reply_json(req, 200, json_pack("{s:o, s:s}", "suggestions",
                                   local_suggestions(k, text, limit), "source", "kiosk"));
}

/* ---- POST /api/match ---------------------------------------------------- */

typedef struct fault {
    const char *field;
    char message[200];
} fault_t;

static int
fail(fault_t *f, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(fault_t *f, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    f->field = field;
    int n = snprintf(f->message, sizeof f->message, "%s: ", field);
    vsnprintf(f->message + n, sizeof f->message - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* An integer member in lo..hi (def when absent or null). */
static int
get_int(json_t *in, const char *field, long lo, long hi, long def, long *out, fault_t *f)
{
    json_t *v = json_object_get(in, field);
    if (!v || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return fail(f, field, "must be a whole number from %ld to %ld", lo, hi);
    *out = (long)json_integer_value(v);
    return 0;
}

static int
valid_skills(kiosk_t *k, json_t *in, json_t *profile, fault_t *f)
{
    json_t *skills = json_object_get(in, "skills");
    if (!skills || json_is_null(skills))
        return 0;
    if (!json_is_array(skills) || json_array_size(skills) > 64)
        return fail(f, "skills", "must be a list of at most 64 skills");
    json_t *out = json_array();
    json_object_set_new(profile, "skills", out);
    size_t i;
    json_t *s;
    json_array_foreach(skills, i, s) {
        const char *id = json_string_value(json_object_get(s, "id"));
        json_t *level = json_object_get(s, "level");
        if (!id || !refdata_find(&k->rd.skills, id))
            return fail(f, "skills", "entry %zu: not a skill of the list", i + 1);
        if (!json_is_integer(level) || json_integer_value(level) < 1 ||
            json_integer_value(level) > 5)
            return fail(f, "skills", "%s: level must be 1 to 5", id);
        for (size_t j = 0; j < i; j++)
            if (strcmp(json_string_value(json_object_get(json_array_get(skills, j), "id")), id) ==
                0)
                return fail(f, "skills", "%s: given twice", id);
        json_array_append_new(out, json_pack("{s:s, s:O}", "id", id, "level", level));
    }
    return 0;
}

static int
valid_occupations(kiosk_t *k, json_t *in, json_t *profile, fault_t *f)
{
    json_t *occ = json_object_get(in, "occupations");
    if (!occ || json_is_null(occ))
        return 0;
    if (!json_is_array(occ) || json_array_size(occ) > 16)
        return fail(f, "occupations", "must be a list of at most 16 occupation codes");
    json_t *out = json_array();
    json_object_set_new(profile, "desired_occupations", out);
    size_t i;
    json_t *c;
    json_array_foreach(occ, i, c) {
        const char *code = json_string_value(c);
        if (!code || !refdata_occupation_name(&k->rd, code))
            return fail(f, "occupations", "entry %zu: not an occupation code", i + 1);
        json_array_append_new(out, json_string(code));
    }
    return 0;
}

/* Builds match.vacancies' args from the page's form, or fails naming the
 * field. */
static int
match_args(kiosk_t *k, json_t *in, json_t **args, fault_t *f)
{
    if (!json_is_object(in))
        return fail(f, "body", "must be a JSON object");
    const char *region = json_string_value(json_object_get(in, "region"));
    if (!region || strlen(region) != 6 || !refdata_find(&k->rd.regions, region))
        return fail(f, "region", "choose a district (a 6-digit region code of the list)");
    long birth_year = 0, education = 0, wage_min = 0, limit = 0; /* set by get_int; -O3 cannot tell */
    if (!json_object_get(in, "birth_year") || json_is_null(json_object_get(in, "birth_year")))
        return fail(f, "birth_year", "required");
    if (get_int(in, "birth_year", 1900, 2100, 0, &birth_year, f) ||
        get_int(in, "education", 0, 7, 0, &education, f) ||
        get_int(in, "wage_min", 0, 1000000, 0, &wage_min, f) ||
        get_int(in, "limit", 1, MAX_MATCHES, DEFAULT_MATCHES, &limit, f))
        return -1;
    const char *scope = "city";
    json_t *sc = json_object_get(in, "scope");
    if (sc && !json_is_null(sc)) {
        scope = json_string_value(sc);
        if (!scope || (strcmp(scope, "county") && strcmp(scope, "city") &&
                       strcmp(scope, "province") && strcmp(scope, "all")))
            return fail(f, "scope", "must be county, city, province or all");
    }
    json_t *profile = json_pack("{s:s, s:i, s:i, s:i}", "region", region, "birth_year",
                                (json_int_t)birth_year, "education", (json_int_t)education,
                                "wage_min", (json_int_t)wage_min);
    if (valid_skills(k, in, profile, f) || valid_occupations(k, in, profile, f)) {
        json_decref(profile);
        return -1;
    }
    *args = json_pack("{s:o, s:s, s:i, s:b}", "profile", profile, "scope", scope, "limit",
                      (json_int_t)limit, "explain", 1);
    return 0;
}

/* The vacancy as a person reads it, with the names of its codes. */
static json_t *
vacancy_view(kiosk_t *k, json_t *v)
{
    const char *region = json_string_value(json_object_get(v, "region"));
    const char *occ = json_string_value(json_object_get(v, "occupation"));
    return json_pack("{s:O, s:O, s:O, s:o, s:O, s:o, s:O, s:O, s:O, s:O}",
                     "title", json_object_get(v, "title"),
                     "employer", json_object_get(v, "employer"),
                     "region", json_object_get(v, "region"),
                     "region_name", region_label(&k->rd, region ? region : ""),
                     "occupation", json_object_get(v, "occupation"),
                     "occupation_name", occupation_label(&k->rd, occ),
                     "wage_min", json_object_get(v, "wage_min"),
                     "wage_max", json_object_get(v, "wage_max"),
                     "education_min", json_object_get(v, "education_min"),
                     "skills", json_object_get(v, "skills"));
}

/* Adds the skills' and the desired occupation's names to an explanation,
 * which the page turns into a sentence. */
static void
name_explain(kiosk_t *k, json_t *explain)
{
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(explain, "skills"), i, s) {
        const kiosk_entry_t *e =
            refdata_find(&k->rd.skills, json_string_value(json_object_get(s, "id")));
        json_object_set_new(s, "name", e ? json_string(e->name) : json_null());
        if (e && e->name_zh)
            json_object_set_new(s, "name_zh", json_string(e->name_zh));
    }
    json_t *occ = json_object_get(explain, "occupation");
    if (json_is_object(occ))
        json_object_set_new(occ, "desired_name",
                            occupation_label(&k->rd, json_string_value(json_object_get(occ, "desired"))));
}

static void
api_match(kiosk_t *k, struct evhttp_request *req)
{
    struct evbuffer *body = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(body);
    if (len > MAX_BODY) {
        reply_error(req, 413, "too_large", "body", "body: at most 16 KiB");
        return;
    }
    json_error_t jerr;
    json_t *in = json_loadb((const char *)evbuffer_pullup(body, -1), len, 0, &jerr);
    if (!in) {
        char msg[240];
        snprintf(msg, sizeof msg, "body: not JSON (%s)", jerr.text);
        reply_error(req, 400, "bad_request", "body", msg);
        return;
    }
    json_t *args = NULL;
    fault_t f = {0};
    int bad = match_args(k, in, &args, &f);
    json_decref(in);
    if (bad) {
        reply_error(req, 400, "bad_request", f.field, f.message);
        return;
    }
    json_t *res = NULL;
    upstream_error_t err;
    int rc = upstream_call(k->up, "match.vacancies", args, &res, &err);
    json_decref(args);
    if (rc != UP_OK) {
        reply_upstream(req, rc, &err);
        return;
    }
    json_t *matches = json_object_get(res, "matches");
    size_t n = json_array_size(matches);
    json_t **get_args = calloc(n ? n : 1, sizeof *get_args);
    json_t **vacancies = calloc(n ? n : 1, sizeof *vacancies);
    if (!get_args || !vacancies) {
        free(get_args);
        free(vacancies);
        json_decref(res);
        reply_error(req, 500, "internal", NULL, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++)
        get_args[i] = json_pack("{s:O}", "id", json_object_get(json_array_get(matches, i), "id"));
    rc = upstream_call_many(k->up, "vacancy.get", get_args, n, vacancies, &err);
    if (rc == UP_DOWN || rc == UP_ROLE) {
        reply_upstream(req, rc, &err);
    } else {
        /* A vacancy deleted between the match and its read (not_found) is
         * left out rather than shown without a title. */
        json_t *out = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *m = json_array_get(matches, i);
            json_t *v = vacancies[i] ? json_object_get(vacancies[i], "vacancy") : NULL;
            if (!json_is_object(v))
                continue;
            json_t *explain = json_object_get(m, "explain");
            name_explain(k, explain);
            json_array_append_new(out, json_pack("{s:O, s:O, s:O, s:o}", "id",
                                                 json_object_get(m, "id"), "score",
                                                 json_object_get(m, "score"), "explain",
                                                 explain ? explain : json_null(), "vacancy",
                                                 vacancy_view(k, v)));
        }
        reply_json(req, 200, json_pack("{s:o}", "matches", out));
    }
    for (size_t i = 0; i < n; i++) {
        json_decref(get_args[i]);
        json_decref(vacancies[i]);
    }
    free(get_args);
    free(vacancies);
    json_decref(res);
}

/* ---- GET /api/supply_demand --------------------------------------------- */

static bool
region_prefix_known(const kiosk_refdata_t *rd, const char *p)
{
    size_t len = strlen(p);
    if (len != 2 && len != 4 && len != 6)
        return false;
    for (size_t i = 0; i < len; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    for (size_t i = 0; i < rd->regions.n; i++)
        if (strncmp(rd->regions.rows[i].code, p, len) == 0)
            return true;
    return false;
}

static int
cmp_openings(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    json_int_t ox = json_integer_value(json_object_get(x, "openings"));
    json_int_t oy = json_integer_value(json_object_get(y, "openings"));
    if (ox != oy)
        return ox > oy ? -1 : 1;
    return strcmp(json_string_value(json_object_get(x, "group")),
                  json_string_value(json_object_get(y, "group")));
}

static void
api_supply_demand(kiosk_t *k, struct evhttp_request *req, query_t *q)
{
    const char *region = evhttp_find_header(&q->kv, "region");
    if (!region || !region_prefix_known(&k->rd, region)) {
        reply_error(req, 400, "bad_request", "region",
                    "region: a province (2 digits), city (4) or district (6) of the list");
        return;
    }
    char period[16];
    if (k->period) {
        snprintf(period, sizeof period, "%s", k->period);
    } else {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        snprintf(period, sizeof period, "%04d", (tm.tm_year + 1900) % 10000);
    }
    json_t *args = json_pack("{s:s, s:s, s:s}", "period", period, "region", region, "by", "middle");
    json_t *res = NULL;
    upstream_error_t err;
    int rc = upstream_call(k->up, "stats.supply_demand", args, &res, &err);
    json_decref(args);
    if (rc != UP_OK) {
        reply_upstream(req, rc, &err);
        return;
    }
    /* The groups with the most openings, named; the group "" (applicants
     * who named no occupation) is no occupation to chart. */
    json_t *groups = json_object_get(res, "groups");
    size_t n = json_array_size(groups), kept = 0;
    json_t **sorted = calloc(n ? n : 1, sizeof *sorted);
    for (size_t i = 0; sorted && i < n; i++) {
        json_t *g = json_array_get(groups, i);
        const char *name = json_string_value(json_object_get(g, "group"));
        if (name && *name)
            sorted[kept++] = g;
    }
    if (sorted)
        qsort(sorted, kept, sizeof *sorted, cmp_openings);
    json_t *out = json_array();
    for (size_t i = 0; i < kept && i < CHART_GROUPS; i++) {
        const char *g = json_string_value(json_object_get(sorted[i], "group"));
        json_array_append_new(out, json_pack("{s:s, s:o, s:O, s:O, s:O}", "group", g, "name",
                                             occupation_label(&k->rd, g), "openings",
                                             json_object_get(sorted[i], "openings"),
                                             "applicants",
                                             json_object_get(sorted[i], "applicants"), "ratio",
                                             json_object_get(sorted[i], "ratio")));
    }
    free(sorted);
    char full[8];
    snprintf(full, sizeof full, "%s%s", region, strlen(region) == 2 ? "0000"
                                                : strlen(region) == 4 ? "00" : "");
    reply_json(req, 200,
               json_pack("{s:s, s:s, s:o, s:o, s:O, s:i}", "period", period, "region", region,
                         "region_name", region_label(&k->rd, full), "groups", out, "total",
                         json_object_get(res, "total"), "groups_total", (json_int_t)kept));
    json_decref(res);
}

/* ---- dispatch ----------------------------------------------------------- */

void
kiosk_handle(struct evhttp_request *req, void *arg)
{
    kiosk_t *k = arg;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    if (!path)
        path = "/";
    if (strncmp(path, "/api/", 5) != 0) {
        if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
            reply_error(req, 405, "method_not_allowed", NULL, "only GET serves files");
            return;
        }
        files_serve(req, k->www, path);
        return;
    }
    const char *name = path + 5;
    bool post = strcmp(name, "match") == 0;
    if (method != (post ? EVHTTP_REQ_POST : EVHTTP_REQ_GET)) {
        reply_error(req, 405, "method_not_allowed", NULL,
                    post ? "/api/match takes POST" : "this resource takes GET");
        return;
    }
    query_t q;
    query_parse(req, &q);
    if (strcmp(name, "status") == 0)
        api_status(k, req);
    else if (strcmp(name, "regions") == 0)
        api_regions(k, req);
    else if (strcmp(name, "skills") == 0)
        api_skills(k, req, &q);
    else if (strcmp(name, "occupations") == 0)
        api_occupations(k, req, &q);
    else if (post)
        api_match(k, req);
    else if (strcmp(name, "supply_demand") == 0)
        api_supply_demand(k, req, &q);
    else
        reply_error(req, 404, "not_found", NULL, "no such resource");
    evhttp_clear_headers(&q.kv);
}
