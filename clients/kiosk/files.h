/* files.h - serving the page's own files (HTML, JS, CSS) from one folder,
 * so the kiosk needs nothing from the network. */
#ifndef JM_KIOSK_FILES_H
#define JM_KIOSK_FILES_H

#include <event2/http.h>

/* Answers a GET of path ("/" is index.html) from the folder www: only a
 * plain file name directly in it, else 404. */
void files_serve(struct evhttp_request *req, const char *www, const char *path);

#endif
