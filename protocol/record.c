/* record.c - validation of vacancy and worker records against every field
 * rule of the wire contract, plus the enum names and code syntax checks
 * the rules rely on.
 *
 * Decoding fills a caller-owned struct whose strings point into the
 * msgpack zone of the input. Fields are checked in the contract's table
 * order, so the first broken rule is the one reported. Messages name the
 * field by path and never quote a value: personal fields must not leak
 * into responses or logs, and quoting nothing is the simplest way to be
 * sure of that.
 */
#include <stdio.h>
#include <string.h>

#include "record.h"

/* Bounds that the contract leaves open; ours are generous but finite so
 * that arithmetic on them cannot overflow. */
#define AGE_MAX 150
#define WAGE_MAX 100000000
#define HEADCOUNT_MAX 1000000
#define BIRTH_YEAR_MIN 1900
#define BIRTH_YEAR_MAX 2100
#define SKILL_LEVEL_MIN 1
#define SKILL_LEVEL_MAX 5

/* Room for a field path such as "vacancy.priority_categories[4]". */
#define PATH_MAX_LEN 192

static const char *const vacancy_status_names[] = {"open", "closed"};
static const char *const worker_status_names[] = {"available", "employed",
                                                  "inactive"};
static const char *const category_names[PR_CAT_COUNT] = {
    "laid_off", "unemployed", "graduate", "migrant", "other"};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

static int name_parse(const char *const *names, size_t n, pr_str_t s)
{
    for (size_t i = 0; i < n; i++)
        if (pr_str_eq(s, names[i]))
            return (int)i;
    return -1;
}

const char *pr_vacancy_status_name(int status)
{
    if (status < 0 || (size_t)status >= COUNT_OF(vacancy_status_names))
        return NULL;
    return vacancy_status_names[status];
}

int pr_vacancy_status_parse(pr_str_t s)
{
    return name_parse(vacancy_status_names, COUNT_OF(vacancy_status_names),
                      s);
}

const char *pr_worker_status_name(int status)
{
    if (status < 0 || (size_t)status >= COUNT_OF(worker_status_names))
        return NULL;
    return worker_status_names[status];
}

int pr_worker_status_parse(pr_str_t s)
{
    return name_parse(worker_status_names, COUNT_OF(worker_status_names), s);
}

const char *pr_category_name(int category)
{
    if (category < 0 || category >= PR_CAT_COUNT)
        return NULL;
    return category_names[category];
}

int pr_category_parse(pr_str_t s)
{
    return name_parse(category_names, PR_CAT_COUNT, s);
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_id_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) ||
           c == '.' || c == '_' || c == ':' || c == '-';
}

bool pr_id_valid(const char *s, size_t len)
{
    if (len < 1 || len > PR_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!is_id_char(s[i]))
            return false;
    return true;
}

int pr_get_id(const msgpack_object *map, const char *key, unsigned flags, pr_str_t *out,
              pr_error_t *err)
{
    int rc = pr_get_str(map, key, key, flags, 1, PR_ID_MAX, out, err);
    if (rc != 0)
        return rc;
    if (!pr_id_valid(out->ptr, out->len))
        return pr_fail(err, PR_BAD_REQUEST, "%s: " PR_ID_RULE, key);
    return 0;
}

bool pr_skill_id_valid(const char *s, size_t len)
{
    if (len < 1 || len > PR_SKILL_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!is_id_char(s[i]) && s[i] != '/')
            return false;
    return true;
}

bool pr_region_valid(const char *s, size_t len)
{
    if (len != PR_REGION_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!is_digit(s[i]))
            return false;
    return true;
}

/* Checks s against the first len characters of the pattern D-DD-DD-DD. */
static bool occupation_matches(const char *s, size_t len)
{
    static const char pattern[] = "D-DD-DD-DD";
    for (size_t i = 0; i < len; i++) {
        if (pattern[i] == '-' ? s[i] != '-' : !is_digit(s[i]))
            return false;
    }
    return true;
}

bool pr_occupation_valid(const char *s, size_t len)
{
    return len == PR_OCCUPATION_LEN && occupation_matches(s, len);
}

bool pr_occupation_prefix_valid(const char *s, size_t len)
{
    /* The level boundaries: major group, middle group, minor group and
     * the full code. */
    if (len != 1 && len != 4 && len != 7 && len != PR_OCCUPATION_LEN)
        return false;
    return occupation_matches(s, len);
}

/* Writes "<path>.<field>" into buf (PATH_MAX_LEN bytes) and returns buf.
 * An over-long path is cut short: it only ever feeds a message. Every
 * field of every record passes here, so it copies rather than formats. */
static const char *field_path(char *buf, const char *path, const char *field)
{
    size_t pl = strlen(path), fl = strlen(field);
    if (pl > PATH_MAX_LEN - 2)
        pl = PATH_MAX_LEN - 2;
    if (fl > PATH_MAX_LEN - 2 - pl)
        fl = PATH_MAX_LEN - 2 - pl;
    memcpy(buf, path, pl);
    buf[pl] = '.';
    memcpy(buf + pl + 1, field, fl);
    buf[pl + 1 + fl] = '\0';
    return buf;
}

/* Writes "<path>.<field>[<i>]" into buf (PATH_MAX_LEN bytes). */
static const char *element_path(char *buf, const char *path, const char *field,
                                uint32_t i)
{
    char digits[12];
    int n = 0;
    do {
        digits[n++] = (char)('0' + i % 10);
        i /= 10;
    } while (i);
    field_path(buf, path, field);
    size_t len = strlen(buf);
    if (len + (size_t)n + 3 > PATH_MAX_LEN)
        return buf;
    buf[len++] = '[';
    while (n)
        buf[len++] = digits[--n];
    buf[len++] = ']';
    buf[len] = '\0';
    return buf;
}

/* The record id: required, then the contract's character set. */
static int get_id(const msgpack_object *obj, const char *path, pr_str_t *out,
                  pr_error_t *err)
{
    char p[PATH_MAX_LEN];
    field_path(p, path, "id");
    if (pr_get_str(obj, "id", p, PR_REQUIRED, 1, PR_ID_MAX, out, err) < 0)
        return -1;
    if (!pr_id_valid(out->ptr, out->len))
        return pr_fail(err, PR_BAD_REQUEST,
                       "%s: " PR_ID_RULE, p);
    return 0;
}

static int get_region(const msgpack_object *obj, const char *path,
                      pr_str_t *out, pr_error_t *err)
{
    char p[PATH_MAX_LEN];
    field_path(p, path, "region");
    if (pr_get_str(obj, "region", p, PR_REQUIRED, 0, UINT32_MAX, out, err) <
        0)
        return -1;
    if (!pr_region_valid(out->ptr, out->len))
        return pr_fail(err, PR_BAD_REQUEST, "%s: must be a 6-digit code", p);
    return 0;
}

/* An optional int field with a default; a thin wrapper that keeps the
 * decoders readable. */
static int get_int_default(const msgpack_object *obj, const char *key,
                           const char *path, int64_t min, int64_t max,
                           int64_t def, int64_t *out, pr_error_t *err)
{
    char p[PATH_MAX_LEN];
    field_path(p, path, key);
    *out = def;
    return pr_get_int(obj, key, p, 0, min, max, out, err) < 0 ? -1 : 0;
}

/* An enum given by name, with a default when absent. names lists the
 * accepted values for the message. */
static int get_enum(const msgpack_object *obj, const char *key,
                    const char *path, int (*parse)(pr_str_t),
                    const char *names, int def, int *out, pr_error_t *err)
{
    char p[PATH_MAX_LEN];
    field_path(p, path, key);
    pr_str_t s;
    int rc = pr_get_str(obj, key, p, 0, 0, UINT32_MAX, &s, err);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        *out = def;
        return 0;
    }
    int v = parse(s);
    if (v < 0)
        return pr_fail(err, PR_BAD_REQUEST, "%s: must be one of %s", p,
                       names);
    *out = v;
    return 0;
}

/* An optional array field: returns 1 when absent or nil, 0 with *arr set,
 * or -1 when it is not an array or holds more than max entries. */
static int get_array(const msgpack_object *obj, const char *key,
                     const char *path, uint32_t max,
                     const msgpack_object_array **arr, pr_error_t *err)
{
    const msgpack_object *o = pr_map_value(obj, key);
    if (o == NULL)
        return 1;
    char p[PATH_MAX_LEN];
    field_path(p, path, key);
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return pr_fail(err, PR_BAD_REQUEST, "%s: must be an array", p);
    if (o->via.array.size > max)
        return pr_fail(err, PR_BAD_REQUEST, "%s: at most %u entries", p,
                       (unsigned)max);
    *arr = &o->via.array;
    return 0;
}

/* skills: 0..64 maps {"id": skill id, "level": 1..5}, ids unique. */
static int get_skills(const msgpack_object *obj, const char *path,
                      pr_skill_t *skills, uint32_t *n_skills,
                      pr_error_t *err)
{
    const msgpack_object_array *arr = NULL;
    *n_skills = 0;
    int rc = get_array(obj, "skills", path, PR_SKILLS_MAX, &arr, err);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    for (uint32_t i = 0; i < arr->size; i++) {
        const msgpack_object *e = &arr->ptr[i];
        char base[PATH_MAX_LEN], p[PATH_MAX_LEN];
        element_path(base, path, "skills", i);
        if (e->type != MSGPACK_OBJECT_MAP)
            return pr_fail(err, PR_BAD_REQUEST, "%s: must be a map", base);
        pr_skill_t *s = &skills[i];
        field_path(p, base, "id");
        if (pr_get_str(e, "id", p, PR_REQUIRED, 1, PR_SKILL_ID_MAX, &s->id,
                       err) < 0)
            return -1;
        if (!pr_skill_id_valid(s->id.ptr, s->id.len))
            return pr_fail(err, PR_BAD_REQUEST,
                           "%s: " PR_SKILL_ID_RULE, p);
        /* At most 64 entries, so the quadratic check is cheap. */
        for (uint32_t j = 0; j < i; j++) {
            if (skills[j].id.len == s->id.len &&
                memcmp(skills[j].id.ptr, s->id.ptr, s->id.len) == 0)
                return pr_fail(err, PR_BAD_REQUEST,
                               "%s: duplicate skill id", p);
        }
        int64_t level;
        field_path(p, base, "level");
        if (pr_get_int(e, "level", p, PR_REQUIRED, SKILL_LEVEL_MIN,
                       SKILL_LEVEL_MAX, &level, err) < 0)
            return -1;
        s->level = (uint8_t)level;
    }
    *n_skills = arr->size;
    return 0;
}

/* priority_categories: unique category names, kept as a bit mask. */
static int get_priority(const msgpack_object *obj, const char *path,
                        uint8_t *mask, pr_error_t *err)
{
    const msgpack_object_array *arr = NULL;
    *mask = 0;
    int rc = get_array(obj, "priority_categories", path, PR_CAT_COUNT, &arr,
                       err);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    for (uint32_t i = 0; i < arr->size; i++) {
        const msgpack_object *e = &arr->ptr[i];
        char p[PATH_MAX_LEN];
        element_path(p, path, "priority_categories", i);
        if (e->type != MSGPACK_OBJECT_STR)
            return pr_fail(err, PR_BAD_REQUEST, "%s: must be a string", p);
        pr_str_t s = {e->via.str.ptr, e->via.str.size};
        int c = pr_category_parse(s);
        if (c < 0)
            return pr_fail(err, PR_BAD_REQUEST,
                           "%s: must be one of laid_off, unemployed, "
                           "graduate, migrant, other", p);
        if (*mask & (1u << c))
            return pr_fail(err, PR_BAD_REQUEST, "%s: duplicate category", p);
        *mask |= (uint8_t)(1u << c);
    }
    return 0;
}

/* desired_occupations: 0..16 codes, each full or a level prefix. */
static int get_desired(const msgpack_object *obj, const char *path,
                       pr_str_t *desired, uint32_t *n_desired,
                       pr_error_t *err)
{
    const msgpack_object_array *arr = NULL;
    *n_desired = 0;
    int rc = get_array(obj, "desired_occupations", path, PR_DESIRED_MAX,
                       &arr, err);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    for (uint32_t i = 0; i < arr->size; i++) {
        const msgpack_object *e = &arr->ptr[i];
        char p[PATH_MAX_LEN];
        element_path(p, path, "desired_occupations", i);
        if (e->type != MSGPACK_OBJECT_STR)
            return pr_fail(err, PR_BAD_REQUEST, "%s: must be a string", p);
        if (!pr_occupation_prefix_valid(e->via.str.ptr, e->via.str.size))
            return pr_fail(err, PR_BAD_REQUEST,
                           "%s: must be an occupation code D-DD-DD-DD or a "
                           "prefix of one (D, D-DD, D-DD-DD)", p);
        desired[i].ptr = e->via.str.ptr;
        desired[i].len = e->via.str.size;
    }
    *n_desired = arr->size;
    return 0;
}

/* An optional UTF-8 string of min..max bytes; leaves out->ptr NULL when
 * absent. */
static int get_opt_str(const msgpack_object *obj, const char *key,
                       const char *path, uint32_t min, uint32_t max,
                       pr_str_t *out, pr_error_t *err)
{
    char p[PATH_MAX_LEN];
    field_path(p, path, key);
    out->ptr = NULL;
    out->len = 0;
    return pr_get_str(obj, key, p, 0, min, max, out, err) < 0 ? -1 : 0;
}

int pr_vacancy_decode(const msgpack_object *obj, const char *path,
                      unsigned flags, int64_t now, pr_vacancy_t *out,
                      pr_error_t *err)
{
    char p[PATH_MAX_LEN];
    memset(out, 0, sizeof *out);
    if (obj == NULL || obj->type != MSGPACK_OBJECT_MAP)
        return pr_fail(err, PR_BAD_REQUEST, "%s: must be a map", path);

    if (get_id(obj, path, &out->id, err) < 0)
        return -1;
    if (pr_get_str(obj, "employer", field_path(p, path, "employer"),
                   PR_REQUIRED, 1, PR_EMPLOYER_MAX, &out->employer, err) < 0)
        return -1;
    if (pr_get_str(obj, "title", field_path(p, path, "title"), PR_REQUIRED,
                   1, PR_TITLE_MAX, &out->title, err) < 0)
        return -1;
    if (pr_get_str(obj, "occupation", field_path(p, path, "occupation"),
                   PR_REQUIRED, 0, UINT32_MAX, &out->occupation, err) < 0)
        return -1;
    if (!pr_occupation_valid(out->occupation.ptr, out->occupation.len))
        return pr_fail(err, PR_BAD_REQUEST,
                       "%s: must be a code D-DD-DD-DD", p);
    if (get_region(obj, path, &out->region, err) < 0)
        return -1;
    if (get_skills(obj, path, out->skills, &out->n_skills, err) < 0)
        return -1;
    if (get_int_default(obj, "education_min", path, 0, PR_EDUCATION_MAX, 0,
                        &out->education_min, err) < 0 ||
        get_int_default(obj, "age_min", path, 0, AGE_MAX, 0, &out->age_min,
                        err) < 0 ||
        get_int_default(obj, "age_max", path, 0, AGE_MAX, 0, &out->age_max,
                        err) < 0 ||
        get_int_default(obj, "wage_min", path, 0, WAGE_MAX, 0,
                        &out->wage_min, err) < 0 ||
        get_int_default(obj, "wage_max", path, 0, WAGE_MAX, 0,
                        &out->wage_max, err) < 0 ||
        get_int_default(obj, "headcount", path, 1, HEADCOUNT_MAX, 1,
                        &out->headcount, err) < 0)
        return -1;
    /* filled belongs to the server: a client's value is ignored, only a
     * stored record carries it. */
    out->filled = 0;
    if ((flags & PR_REC_STORED) &&
        get_int_default(obj, "filled", path, 0, INT64_MAX, 0, &out->filled,
                        err) < 0)
        return -1;
    if (get_priority(obj, path, &out->priority_mask, err) < 0)
        return -1;
    out->posted = now;
    if (pr_get_int(obj, "posted", field_path(p, path, "posted"),
                   (flags & PR_REC_STORED) ? PR_REQUIRED : 0, INT64_MIN,
                   INT64_MAX, &out->posted, err) < 0)
        return -1;
    if (get_int_default(obj, "expires", path, 0, INT64_MAX, 0, &out->expires,
                        err) < 0)
        return -1;
    if (get_enum(obj, "status", path, pr_vacancy_status_parse,
                 "open, closed", PR_VACANCY_OPEN, &out->status, err) < 0)
        return -1;
    /* origin names the owning node: the server sets it, so a client's
     * value means nothing; a stored record (or a replicated one) keeps it. */
    if (flags & PR_REC_STORED) {
        if (get_opt_str(obj, "origin", path, 1, PR_ID_MAX, &out->origin, err) < 0)
            return -1;
        if (out->origin.ptr && !pr_id_valid(out->origin.ptr, out->origin.len))
            return pr_fail(err, PR_BAD_REQUEST,
                           "%s: " PR_ID_RULE, field_path(p, path, "origin"));
    }
    return 0;
}

/* The personal fields, in table order; a profile must not carry them. */
static const char *const personal_keys[] = {"name", "national_id", "phone"};

int pr_worker_decode(const msgpack_object *obj, const char *path,
                     unsigned flags, int64_t now, pr_worker_t *out,
                     pr_error_t *err)
{
    char p[PATH_MAX_LEN];
    memset(out, 0, sizeof *out);
    if (obj == NULL || obj->type != MSGPACK_OBJECT_MAP)
        return pr_fail(err, PR_BAD_REQUEST, "%s: must be a map", path);

    pr_str_t *personal[] = {&out->name, &out->national_id, &out->phone};
    if (flags & PR_REC_PROFILE) {
        /* A profile is anonymous by design: it comes from a kiosk, and
         * accepting identity fields there would invite storing them. */
        static const char *const banned[] = {"id", "name", "national_id",
                                             "phone"};
        for (size_t i = 0; i < COUNT_OF(banned); i++) {
            if (pr_map_value(obj, banned[i]) != NULL)
                return pr_fail(err, PR_BAD_REQUEST,
                               "%s: not allowed in a profile",
                               field_path(p, path, banned[i]));
        }
    } else {
        if (get_id(obj, path, &out->id, err) < 0)
            return -1;
        for (size_t i = 0; i < COUNT_OF(personal_keys); i++)
            if (get_opt_str(obj, personal_keys[i], path, 1, PR_PERSONAL_MAX,
                            personal[i], err) < 0)
                return -1;
    }
    if (pr_get_int(obj, "birth_year", field_path(p, path, "birth_year"),
                   PR_REQUIRED, BIRTH_YEAR_MIN, BIRTH_YEAR_MAX,
                   &out->birth_year, err) < 0)
        return -1;
    if (get_region(obj, path, &out->region, err) < 0)
        return -1;
    if (get_int_default(obj, "education", path, 0, PR_EDUCATION_MAX, 0,
                        &out->education, err) < 0)
        return -1;
    if (get_skills(obj, path, out->skills, &out->n_skills, err) < 0)
        return -1;
    if (get_desired(obj, path, out->desired, &out->n_desired, err) < 0)
        return -1;
    if (get_int_default(obj, "wage_min", path, 0, WAGE_MAX, 0,
                        &out->wage_min, err) < 0)
        return -1;
    if (get_enum(obj, "category", path, pr_category_parse,
                 "laid_off, unemployed, graduate, migrant, other",
                 PR_CAT_OTHER, &out->category, err) < 0)
        return -1;
    if (get_opt_str(obj, "center", path, 1, PR_CENTER_MAX, &out->center,
                    err) < 0)
        return -1;
    out->registered = now;
    if (pr_get_int(obj, "registered", field_path(p, path, "registered"),
                   (flags & PR_REC_STORED) ? PR_REQUIRED : 0, INT64_MIN,
                   INT64_MAX, &out->registered, err) < 0)
        return -1;
    if (get_enum(obj, "status", path, pr_worker_status_parse,
                 "available, employed, inactive", PR_WORKER_AVAILABLE,
                 &out->status, err) < 0)
        return -1;
    return 0;
}
