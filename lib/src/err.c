/*
 * err.c - names of the closed error set, for logs and metric labels.
 */
#include "postern/err.h"

/* pn_err_str - short lower-case name */
const char *pn_err_str(pn_err err)
{
	switch (err) {
	case PN_OK: return "ok";
	case PN_ERR_TEMP: return "temp";
	case PN_ERR_NOTFOUND: return "notfound";
	case PN_ERR_EXISTS: return "exists";
	case PN_ERR_PERM: return "perm";
	case PN_ERR_PARAMS: return "params";
	case PN_ERR_INTERNAL: return "internal";
	case PN_ERR_TOOLARGE: return "toolarge";
	case PN_ERR_BUSY: return "busy";
	}
	return "unknown";
}
