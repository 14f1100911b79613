/* referral.c - referral statuses, ids and the canonical encoding. */
#include "referral.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char *const status_names[PR_REF_STATUS_COUNT] = {
    "referred", "interviewed", "hired", "rejected", "withdrawn",
};

const char *
pr_referral_status_name(int status)
{
    if (status < 0 || status >= PR_REF_STATUS_COUNT)
        return NULL;
    return status_names[status];
}

int
pr_referral_status_parse(pr_str_t s)
{
    for (int i = 0; i < PR_REF_STATUS_COUNT; i++)
        if (pr_str_eq(s, status_names[i]))
            return i;
    return -1;
}

bool
pr_referral_move_allowed(int from, int to)
{
    if (to == PR_REF_REFERRED || to < 0 || to >= PR_REF_STATUS_COUNT)
        return false;
    if (from == PR_REF_REFERRED)
        return true;
    return from == PR_REF_INTERVIEWED && to != PR_REF_INTERVIEWED;
}

uint32_t
pr_referral_id_format(char *buf, uint64_t refno)
{
    return (uint32_t)snprintf(buf, PR_REF_ID_MAX + 1, "r-%" PRIu64, refno);
}

uint64_t
pr_referral_id_parse(pr_str_t s)
{
    if (s.len < 3 || s.len > PR_REF_ID_MAX || s.ptr[0] != 'r' ||
        s.ptr[1] != '-' || s.ptr[2] == '0')
        return 0;
    uint64_t n = 0;
    for (uint32_t i = 2; i < s.len; i++) {
        char c = s.ptr[i];
        if (c < '0' || c > '9')
            return 0;
        uint64_t d = (uint64_t)(c - '0');
        if (n > (UINT64_MAX - d) / 10)
            return 0;
        n = n * 10 + d;
    }
    return n;
}

static void
pack_opt_str(msgpack_packer *pk, pr_str_t s)
{
    if (s.len)
        pr_pack_str(pk, s);
    else
        msgpack_pack_nil(pk);
}

void
pr_pack_referral(msgpack_packer *pk, const pr_referral_t *r)
{
    char id[PR_REF_ID_MAX + 1];
    uint32_t id_len = pr_referral_id_format(id, r->refno);
    msgpack_pack_map(pk, 8);
    pr_pack_cstr(pk, "id");
    msgpack_pack_str_with_body(pk, id, id_len);
    pr_pack_cstr(pk, "worker");
    pr_pack_str(pk, r->worker);
    pr_pack_cstr(pk, "vacancy");
    pr_pack_str(pk, r->vacancy);
    pr_pack_cstr(pk, "status");
    pr_pack_cstr(pk, pr_referral_status_name(r->status));
    pr_pack_cstr(pk, "created");
    msgpack_pack_int64(pk, r->created);
    pr_pack_cstr(pk, "updated");
    msgpack_pack_int64(pk, r->updated);
    pr_pack_cstr(pk, "hired_at");
    if (r->status == PR_REF_HIRED)
        msgpack_pack_int64(pk, r->hired_at);
    else
        msgpack_pack_nil(pk);
    pr_pack_cstr(pk, "history");
    msgpack_pack_array(pk, r->n_history);
    for (uint32_t i = 0; i < r->n_history; i++) {
        const pr_referral_event_t *e = &r->history[i];
        msgpack_pack_map(pk, 4);
        pr_pack_cstr(pk, "status");
        pr_pack_cstr(pk, pr_referral_status_name(e->status));
        pr_pack_cstr(pk, "at");
        msgpack_pack_int64(pk, e->at);
        pr_pack_cstr(pk, "by");
        pack_opt_str(pk, e->by);
        pr_pack_cstr(pk, "note");
        if (e->note_sealed) {
            msgpack_pack_bin(pk, e->note.len);
            msgpack_pack_bin_body(pk, e->note.ptr, e->note.len);
        } else {
            pack_opt_str(pk, e->note);
        }
    }
}

static int
get_str(const msgpack_object *map, const char *key, bool optional, pr_str_t *out)
{
    const msgpack_object *o = pr_map_value(map, key);
    out->ptr = NULL;
    out->len = 0;
    if (!o)
        return optional ? 0 : -1;
    if (o->type != MSGPACK_OBJECT_STR)
        return -1;
    out->ptr = o->via.str.ptr;
    out->len = o->via.str.size;
    return 0;
}

static int
get_int(const msgpack_object *map, const char *key, bool optional, int64_t *out)
{
    const msgpack_object *o = pr_map_value(map, key);
    *out = 0;
    if (!o)
        return optional ? 0 : -1;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX)
        *out = (int64_t)o->via.u64;
    else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        *out = o->via.i64;
    else
        return -1;
    return 0;
}

static int
get_status(const msgpack_object *map, int *out)
{
    pr_str_t s;
    if (get_str(map, "status", false, &s) != 0)
        return -1;
    *out = pr_referral_status_parse(s);
    return *out < 0 ? -1 : 0;
}

int
pr_referral_decode(const msgpack_object *obj, pr_referral_t *out)
{
    memset(out, 0, sizeof *out);
    if (obj->type != MSGPACK_OBJECT_MAP)
        return -1;
    pr_str_t id;
    if (get_str(obj, "id", false, &id) != 0 ||
        (out->refno = pr_referral_id_parse(id)) == 0 ||
        get_str(obj, "worker", false, &out->worker) != 0 ||
        get_str(obj, "vacancy", false, &out->vacancy) != 0 ||
        get_status(obj, &out->status) != 0 ||
        get_int(obj, "created", false, &out->created) != 0 ||
        get_int(obj, "updated", false, &out->updated) != 0 ||
        get_int(obj, "hired_at", true, &out->hired_at) != 0)
        return -1;
    const msgpack_object *h = pr_map_get(obj, "history");
    if (!h || h->type != MSGPACK_OBJECT_ARRAY || h->via.array.size < 1 ||
        h->via.array.size > PR_REF_HISTORY_MAX)
        return -1;
    out->n_history = h->via.array.size;
    for (uint32_t i = 0; i < out->n_history; i++) {
        const msgpack_object *e = &h->via.array.ptr[i];
        pr_referral_event_t *ev = &out->history[i];
        if (e->type != MSGPACK_OBJECT_MAP || get_status(e, &ev->status) != 0 ||
            get_int(e, "at", false, &ev->at) != 0 ||
            get_str(e, "by", true, &ev->by) != 0)
            return -1;
        const msgpack_object *note = pr_map_get(e, "note");
        if (note && note->type == MSGPACK_OBJECT_BIN && note->via.bin.size > 0) {
            ev->note = (pr_str_t){note->via.bin.ptr, note->via.bin.size};
            ev->note_sealed = true;
        } else if (get_str(e, "note", true, &ev->note) != 0) {
            return -1;
        }
    }
    return 0;
}
