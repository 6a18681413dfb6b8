/*
 * err.h - the closed set of error kinds every Postern function returns.
 *
 * Values equal the wire enum postern.v1.Status so that a handler's return
 * value becomes the reply status without a table. Callers retry only on
 * PN_ERR_TEMP; everything else is final. What went wrong in detail is
 * logged or put into the reply's error string, never encoded here.
 */
#ifndef POSTERN_ERR_H
#define POSTERN_ERR_H

typedef enum pn_err {
	PN_OK = 1,            /* STATUS_OK */
	PN_ERR_TEMP = 2,      /* transient: try again later */
	PN_ERR_NOTFOUND = 3,
	PN_ERR_EXISTS = 4,
	PN_ERR_PERM = 5,      /* refused by policy */
	PN_ERR_PARAMS = 6,    /* malformed or invalid input */
	PN_ERR_INTERNAL = 7,
	PN_ERR_TOOLARGE = 8,
	PN_ERR_BUSY = 9,
} pn_err;

/* pn_err_str - short lower-case name for logs and metrics labels */
const char *pn_err_str(pn_err err);

#endif
