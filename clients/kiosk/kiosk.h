/* kiosk.h - the kiosk's HTTP side: the JSON API under /api/ and the page's
 * files, answered for one evhttp server.
 *
 * API (docs/kiosk.md has the fields and errors):
 *   GET  /api/status                  is the job service reachable
 *   GET  /api/regions                 every region code and name
 *   GET  /api/skills?q=TEXT           skills whose name contains TEXT
 *   GET  /api/occupations?q=TEXT      occupations for free text
 *   POST /api/match                   ranked openings for a profile
 *   GET  /api/supply_demand?region=P  openings against applicants
 */
#ifndef JM_KIOSK_KIOSK_H
#define JM_KIOSK_KIOSK_H

#include <event2/http.h>

#include "refdata.h"
#include "upstream.h"

typedef struct kiosk {
    kiosk_refdata_t rd;
    upstream_t *up;
    const char *www;    /* folder of the page's files */
    const char *period; /* statistics period, or NULL for the current year */
    char *regions_json; /* the answer of /api/regions, made once */
} kiosk_t;

/* The evhttp callback for every request (evhttp_set_gencb, arg = kiosk). */
void kiosk_handle(struct evhttp_request *req, void *arg);

#endif
