/* test_referrals.c - referrals through a running jobmatchd: the moves a
 * referral may make and the conflicts, a hire changing the vacancy and
 * the worker in one write (and matching seeing it at once), the history,
 * listing by worker, vacancy and status with cursors, admin.check, and
 * survival across a restart. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "wire.h"

static void
put_vacancy(jm_client_t *c, const char *id, int headcount)
{
    jm_reply_t *r = jt_call_json(c, "vacancy.put",
                                 "{\"vacancy\": {\"id\": \"%s\", \"employer\": \"Acme\", "
                                 "\"title\": \"Welder\", \"occupation\": \"6-05-02-03\", "
                                 "\"region\": \"110105\", \"headcount\": %d, "
                                 "\"skills\": [{\"id\": \"welding\", \"level\": 2}]}}",
                                 id, headcount);
    jt_expect_ok(r, "vacancy.put");
    jm_reply_free(r);
}

static void
put_worker(jm_client_t *c, const char *id, const char *category)
{
    jm_reply_t *r = jt_call_json(c, "worker.put",
                                 "{\"worker\": {\"id\": \"%s\", \"birth_year\": 1990, "
                                 "\"region\": \"110105\", \"category\": \"%s\", "
                                 "\"skills\": [{\"id\": \"welding\", \"level\": 3}]}}",
                                 id, category);
    jt_expect_ok(r, "worker.put");
    jm_reply_free(r);
}

static jm_reply_t *
move(jm_client_t *c, const char *id, const char *status)
{
    return jt_call_json(c, "referral.update", "{\"id\": \"%s\", \"status\": \"%s\"}", id,
                        status);
}

static void
move_ok(jm_client_t *c, const char *id, const char *status)
{
    jm_reply_t *r = move(c, id, status);
    jt_expect_ok(r, "referral.update");
    cr_assert_str_eq(jt_get_str(jt_need(&r->result, "referral"), "status"), status);
    jm_reply_free(r);
}

static void
move_conflict(jm_client_t *c, const char *id, const char *status, const char *msg)
{
    jm_reply_t *r = move(c, id, status);
    jt_expect_error(r, "conflict", msg);
    jm_reply_free(r);
}

static const char *
record_field(jm_client_t *c, const char *kind, const char *id, const char *field,
             int64_t *num)
{
    char op[32];
    snprintf(op, sizeof op, "%s.get", kind);
    jm_reply_t *r = jt_call_json(c, op, "{\"id\": \"%s\"}", id);
    jt_expect_ok(r, op);
    const msgpack_object *rec = jt_need(&r->result, kind);
    static char s[64];
    if (num)
        *num = jt_get_int(rec, field);
    else
        snprintf(s, sizeof s, "%s", jt_get_str(rec, field));
    jm_reply_free(r);
    return s;
}

/* Whether match.workers for the vacancy lists the worker. */
static bool
matched(jm_client_t *c, const char *vacancy, const char *worker)
{
    jm_reply_t *r = jt_call_json(c, "match.workers", "{\"vacancy\": \"%s\", \"limit\": 200}",
                                 vacancy);
    jt_expect_ok(r, "match.workers");
    const msgpack_object *m = jt_need(&r->result, "matches");
    bool found = false;
    for (uint32_t i = 0; i < m->via.array.size; i++)
        found = found || jt_str_is(jt_need(&m->via.array.ptr[i], "id"), worker);
    jm_reply_free(r);
    return found;
}

Test(referrals, hire_fills_the_vacancy_and_employs_the_worker, .timeout = 60)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    put_vacancy(c, "v-1", 2);
    put_worker(c, "w-1", "laid_off");
    put_worker(c, "w-2", "graduate");
    put_worker(c, "w-3", "other");
    cr_assert(matched(c, "v-1", "w-1"));

    const char *r1 = jt_refer(c, "w-1", "v-1", "strong welder");
    char id1[32];
    snprintf(id1, sizeof id1, "%s", r1);
    move_ok(c, id1, "interviewed");
    move_ok(c, id1, "hired");
    int64_t n;
    record_field(c, "vacancy", "v-1", "filled", &n);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(record_field(c, "vacancy", "v-1", "status", NULL), "open");
    cr_assert_str_eq(record_field(c, "worker", "w-1", "status", NULL), "employed");
    /* The hire changed a worker record, so the audit trail has it. */
    jm_reply_t *a = jt_call_json(c, "audit.list", "{\"worker\": \"w-1\"}");
    jt_expect_ok(a, "audit.list");
    const msgpack_object *entries = jt_need(&a->result, "entries");
    bool audited = false;
    for (uint32_t i = 0; i < entries->via.array.size; i++)
        audited = audited || jt_str_is(jt_need(&entries->via.array.ptr[i], "op"), "referral.update");
    cr_assert(audited, "the hire is not in the audit trail");
    jm_reply_free(a);
    /* Matching sees the hire at once: the worker is no longer available. */
    cr_assert_not(matched(c, "v-1", "w-1"));
    cr_assert(matched(c, "v-1", "w-2"));

    /* Referred straight to hired fills the last place and closes it. */
    char id2[32];
    snprintf(id2, sizeof id2, "%s", jt_refer(c, "w-2", "v-1", ""));
    move_ok(c, id2, "hired");
    record_field(c, "vacancy", "v-1", "filled", &n);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(record_field(c, "vacancy", "v-1", "status", NULL), "closed");
    cr_assert_not(matched(c, "v-1", "w-3"));

    /* A closed vacancy takes no new referral. */
    jm_reply_t *r = jt_call_json(c, "referral.create", "{\"worker\": \"w-3\", \"vacancy\": \"v-1\"}");
    jt_expect_error(r, "conflict", "closed");
    jm_reply_free(r);
    jt_expect_check_clean(c, "at the end");
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

Test(referrals, a_hire_into_a_full_vacancy_is_a_conflict, .timeout = 60)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    put_vacancy(c, "v-1", 1);
    put_worker(c, "w-1", "laid_off");
    put_worker(c, "w-2", "laid_off");
    char a[32], b[32];
    snprintf(a, sizeof a, "%s", jt_refer(c, "w-1", "v-1", "first"));
    snprintf(b, sizeof b, "%s", jt_refer(c, "w-2", "v-1", "second"));
    move_ok(c, b, "interviewed");
    move_ok(c, a, "hired");
    move_conflict(c, b, "hired", "full");
    /* Nothing of the refused hire was written. */
    cr_assert_str_eq(record_field(c, "worker", "w-2", "status", NULL), "available");
    int64_t n;
    record_field(c, "vacancy", "v-1", "filled", &n);
    cr_assert_eq(n, 1);
    jm_reply_t *r = jt_call_json(c, "referral.get", "{\"id\": \"%s\"}", b);
    jt_expect_ok(r, "referral.get");
    cr_assert_str_eq(jt_get_str(jt_need(&r->result, "referral"), "status"), "interviewed");
    jm_reply_free(r);
    /* The other referral can still end. */
    move_ok(c, b, "rejected");
    jt_expect_check_clean(c, "at the end");
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

Test(referrals, only_the_documented_moves_are_allowed, .timeout = 60)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    put_vacancy(c, "v-1", 5);
    const char *finals[] = {"hired", "rejected", "withdrawn"};
    for (int i = 0; i < 3; i++) {
        char w[16], id[32];
        snprintf(w, sizeof w, "w-%d", i);
        put_worker(c, w, "other");
        snprintf(id, sizeof id, "%s", jt_refer(c, w, "v-1", "n"));
        move_ok(c, id, finals[i]);
        /* Final: nothing moves on. */
        for (int j = 0; j < 3; j++)
            move_conflict(c, id, finals[j], "cannot move");
        move_conflict(c, id, "interviewed", "cannot move");
    }
    /* referred is never a target; unknown statuses and ids are refused. */
    put_worker(c, "w-9", "other");
    char id[32];
    snprintf(id, sizeof id, "%s", jt_refer(c, "w-9", "v-1", "n"));
    jm_reply_t *r = move(c, id, "referred");
    jt_expect_error(r, "bad_request", "status");
    jm_reply_free(r);
    r = move(c, id, "promoted");
    jt_expect_error(r, "bad_request", "status");
    jm_reply_free(r);
    r = move(c, "r-999", "interviewed");
    jt_expect_error(r, "not_found", "r-999");
    jm_reply_free(r);
    r = move(c, "17", "interviewed");
    jt_expect_error(r, "bad_request", "id");
    jm_reply_free(r);
    move_ok(c, id, "interviewed");
    move_conflict(c, id, "interviewed", "from interviewed to interviewed");
    move_ok(c, id, "withdrawn");
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

Test(referrals, create_refuses_what_cannot_be_referred, .timeout = 60)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    put_vacancy(c, "v-1", 3);
    put_worker(c, "w-1", "other");
    jm_reply_t *r = jt_call_json(c, "referral.create", "{\"worker\": \"nobody\", \"vacancy\": \"v-1\"}");
    jt_expect_error(r, "not_found", "worker nobody");
    jm_reply_free(r);
    r = jt_call_json(c, "referral.create", "{\"worker\": \"w-1\", \"vacancy\": \"none\"}");
    jt_expect_error(r, "not_found", "vacancy none");
    jm_reply_free(r);
    r = jt_call_json(c, "referral.create", "{\"vacancy\": \"v-1\"}");
    jt_expect_error(r, "bad_request", "worker: required");
    jm_reply_free(r);
    r = jt_call_json(c, "referral.create", "{\"worker\": \"w-1\", \"vacancy\": \"v-1\", \"note\": 5}");
    jt_expect_error(r, "bad_request", "note");
    jm_reply_free(r);
    char id[32];
    snprintf(id, sizeof id, "%s", jt_refer(c, "w-1", "v-1", "first"));
    /* One open referral per worker and vacancy. */
    r = jt_call_json(c, "referral.create", "{\"worker\": \"w-1\", \"vacancy\": \"v-1\"}");
    jt_expect_error(r, "conflict", id);
    jm_reply_free(r);
    move_ok(c, id, "withdrawn");
    jt_refer(c, "w-1", "v-1", "again");
    /* An employed worker is not referred. */
    r = jt_call_json(c, "worker.put", "{\"worker\": {\"id\": \"w-2\", \"birth_year\": 1990, "
                                      "\"region\": \"110105\", \"status\": \"employed\"}}");
    jt_expect_ok(r, "worker.put");
    jm_reply_free(r);
    r = jt_call_json(c, "referral.create", "{\"worker\": \"w-2\", \"vacancy\": \"v-1\"}");
    jt_expect_error(r, "conflict", "employed");
    jm_reply_free(r);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

static const char ini[] = "[keys]\nfront-desk = counselor:counselor-secret-1\n";

Test(referrals, history_keeps_every_change_with_who_when_and_note, .timeout = 60)
{
    jt_daemon_t *d = jt_daemon_start_ini(ini, NULL);
    jm_client_t *admin = jt_connect_admin(d);
    jm_client_t *desk = jt_connect_key(d, "counselor-secret-1", "counselor");
    put_vacancy(admin, "v-1", 1);
    put_worker(admin, "w-1", "laid_off");
    char id[32];
    snprintf(id, sizeof id, "%s", jt_refer(desk, "w-1", "v-1", "good match"));
    move_ok(admin, id, "interviewed");
    jm_reply_t *r = jt_call_json(desk, "referral.update",
                                 "{\"id\": \"%s\", \"status\": \"hired\", \"note\": \"starts Monday\"}", id);
    jt_expect_ok(r, "hire");
    jm_reply_free(r);

    r = jt_call_json(desk, "referral.get", "{\"id\": \"%s\"}", id);
    jt_expect_ok(r, "referral.get");
    const msgpack_object *ref = jt_need(&r->result, "referral");
    cr_assert_str_eq(jt_get_str(ref, "status"), "hired");
    int64_t created = jt_get_int(ref, "created"), hired_at = jt_get_int(ref, "hired_at");
    cr_assert(hired_at >= created && created > 0);
    cr_assert_eq(jt_get_int(ref, "updated"), hired_at);
    const msgpack_object *h = jt_need(ref, "history");
    cr_assert_eq(h->via.array.size, 3);
    const char *want[3][3] = {{"referred", "front-desk", "good match"},
                              {"interviewed", "admin", NULL},
                              {"hired", "front-desk", "starts Monday"}};
    int64_t last = 0;
    for (int i = 0; i < 3; i++) {
        const msgpack_object *e = &h->via.array.ptr[i];
        cr_assert_str_eq(jt_get_str(e, "status"), want[i][0]);
        cr_assert_str_eq(jt_get_str(e, "by"), want[i][1]);
        if (want[i][2])
            cr_assert_str_eq(jt_get_str(e, "note"), want[i][2]);
        else
            cr_assert_eq(jt_need(e, "note")->type, MSGPACK_OBJECT_NIL);
        cr_assert(jt_get_int(e, "at") >= last);
        last = jt_get_int(e, "at");
    }
    cr_assert_eq(last, hired_at);
    jm_reply_free(r);
    jm_close(desk);
    jm_close(admin);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

/* Lists every page with limit 1 and returns the ids joined by commas. */
static void
list_ids(jm_client_t *c, const char *filter, char *out, size_t len)
{
    out[0] = '\0';
    char cursor[600] = "";
    int pages = 0;
    do {
        jm_reply_t *r;
        if (cursor[0])
            r = jt_call_json(c, "referral.list", "{%s%s\"limit\": 1, \"cursor\": \"%s\"}",
                             filter, filter[0] ? ", " : "", cursor);
        else
            r = jt_call_json(c, "referral.list", "{%s%s\"limit\": 1}", filter,
                             filter[0] ? ", " : "");
        jt_expect_ok(r, "referral.list");
        const msgpack_object *a = jt_need(&r->result, "referrals");
        cr_assert_leq(a->via.array.size, 1);
        for (uint32_t i = 0; i < a->via.array.size; i++) {
            if (out[0])
                strncat(out, ",", len - strlen(out) - 1);
            strncat(out, jt_get_str(&a->via.array.ptr[i], "id"), len - strlen(out) - 1);
        }
        const msgpack_object *cur = jt_need(&r->result, "cursor");
        if (cur->type == MSGPACK_OBJECT_STR)
            snprintf(cursor, sizeof cursor, "%.*s", (int)cur->via.str.size, cur->via.str.ptr);
        else
            cursor[0] = '\0';
        jm_reply_free(r);
        cr_assert_lt(++pages, 50);
    } while (cursor[0]);
}

Test(referrals, list_by_worker_vacancy_and_status_with_cursors, .timeout = 60)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    put_vacancy(c, "v-a", 5);
    put_vacancy(c, "v-b", 5);
    put_worker(c, "w-1", "other");
    put_worker(c, "w-2", "other");
    jt_refer(c, "w-1", "v-a", "");   /* r-1 */
    jt_refer(c, "w-1", "v-b", "");   /* r-2 */
    jt_refer(c, "w-2", "v-a", "");   /* r-3 */
    move_ok(c, "r-2", "interviewed");
    move_ok(c, "r-3", "rejected");
    char ids[256];
    list_ids(c, "\"worker\": \"w-1\"", ids, sizeof ids);
    cr_assert_str_eq(ids, "r-1,r-2");
    list_ids(c, "\"vacancy\": \"v-a\"", ids, sizeof ids);
    cr_assert_str_eq(ids, "r-1,r-3");
    list_ids(c, "\"status\": \"interviewed\"", ids, sizeof ids);
    cr_assert_str_eq(ids, "r-2");
    list_ids(c, "\"status\": \"referred\"", ids, sizeof ids);
    cr_assert_str_eq(ids, "r-1");
    list_ids(c, "\"worker\": \"w-1\", \"status\": \"referred\"", ids, sizeof ids);
    cr_assert_str_eq(ids, "r-1");
    list_ids(c, "", ids, sizeof ids);
    cr_assert_str_eq(ids, "r-1,r-2,r-3");
    list_ids(c, "\"worker\": \"nobody\"", ids, sizeof ids);
    cr_assert_str_eq(ids, "");

    /* A cursor belongs to its filters. */
    jm_reply_t *r = jt_call_json(c, "referral.list", "{\"worker\": \"w-1\", \"limit\": 1}");
    jt_expect_ok(r, "first page");
    char cursor[600];
    const msgpack_object *cur = jt_need(&r->result, "cursor");
    cr_assert_eq(cur->type, MSGPACK_OBJECT_STR);
    snprintf(cursor, sizeof cursor, "%.*s", (int)cur->via.str.size, cur->via.str.ptr);
    jm_reply_free(r);
    r = jt_call_json(c, "referral.list", "{\"vacancy\": \"v-a\", \"cursor\": \"%s\"}", cursor);
    jt_expect_error(r, "bad_request", "cursor");
    jm_reply_free(r);
    r = jt_call_json(c, "referral.list", "{\"status\": \"open\"}");
    jt_expect_error(r, "bad_request", "status");
    jm_reply_free(r);

    /* Everything survives a restart (acknowledged writes are durable). */
    cr_assert_eq(jt_daemon_restart(d), 0);
    jm_close(c);
    c = jt_connect_admin(d);
    list_ids(c, "\"vacancy\": \"v-a\"", ids, sizeof ids);
    cr_assert_str_eq(ids, "r-1,r-3");
    list_ids(c, "\"status\": \"rejected\"", ids, sizeof ids);
    cr_assert_str_eq(ids, "r-3");
    /* Numbers keep growing after the restart. */
    cr_assert_str_eq(jt_refer(c, "w-2", "v-b", ""), "r-4");
    jt_expect_check_clean(c, "at the end");
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
}
