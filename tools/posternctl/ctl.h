/*
 * ctl.h - posternctl's subcommands, one file each (ctl_<name>.c).
 * Each takes the arguments after its own name (argv[0] is the name) and
 * returns the process exit status: 0 ok, 1 failure, 2 usage error.
 */
#ifndef POSTERN_CTL_H
#define POSTERN_CTL_H

int ctl_certs(int argc, char **argv);
int ctl_roles(int argc, char **argv);
int ctl_ping(int argc, char **argv);
int ctl_lookup(int argc, char **argv);
int ctl_key(int argc, char **argv);
int ctl_send(int argc, char **argv);
int ctl_pin(int argc, char **argv);
int ctl_reissue(int argc, char **argv);
int ctl_revoke(int argc, char **argv);
int ctl_mailbox(int argc, char **argv);
int ctl_audit(int argc, char **argv);

/*
 * The bus, shared by the commands that talk to a service (ctl_bus.c).
 * ctl_client - a client with the common settings; NULL with a message
 *	and *status_r (2 bad configuration, 1 certificates) on failure
 * ctl_client_done - destroy it (NULL-tolerant)
 * ctl_unreachable, ctl_refused - the shared wording of those failures
 *	(why: the typed call's text, may be NULL)
 * ctl_failed - after a typed call failed: unreachable when nothing
 *	answered, refused otherwise
 */
#include "postern/bus.h"

pn_client *ctl_client(const char *cmd, long default_timeout_ms, int *status_r);
void ctl_client_done(pn_client **client);
void ctl_unreachable(const char *cmd, const char *service);
void ctl_refused(const char *cmd, pn_err rc, const char *why);
void ctl_failed(const char *cmd, const char *service, const pn_client *client, pn_err rc,
    const char *why);

/*
 * Shared by the commands:
 * ctl_decrypt - cipher decrypted with the local keyring (GNUPGHOME) into
 *	*plain_r, to be freed with ctl_plain_free; 0, or -1 with a message
 * ctl_print_outcome - one tab-separated line for a send outcome; -1 for
 *	REJECTED (ctl_send.c)
 */
#include "postern/v1/provision.pb-c.h"
#include <stddef.h>

int ctl_decrypt(const char *cmd, const void *cipher, size_t len, char **plain_r, size_t *n_r);
void ctl_plain_free(char **plain, size_t n);
int ctl_print_outcome(const Postern__V1__Outcome *o);
/*
 * ctl_ask.c:
 * ctl_token_from - provision's challenge decrypted (ctl_decrypt): the 43
 *	base64url characters of its token into token; 0, or -1 with a message
 * ctl_confirm - 0 when yes is set or the person at the terminal answers
 *	y to "what? [y/N]"; -1 (with a message) otherwise, and always when
 *	standard input is not a terminal and yes is not set
 */
int ctl_token_from(const char *cmd, const ProtobufCBinaryData *challenge, char token[44]);
int ctl_confirm(const char *cmd, int yes, const char *what);

/*
 * ctl_opts.c: a subcommand's options as a table, ended by { NULL }.
 * ctl_opts_parse - argv[1..argc) by opts: each named option sets *value
 *	to the argument after it, or *flag to 1. 0 when every argument was
 *	one of them, 1 for -h or --help (the caller prints its synopsis),
 *	-1 with a message for anything else or a value missing.
 */
typedef struct ctl_opt {
	const char *name;       /* "--sender" */
	const char **value;     /* takes the next argument; or */
	int *flag;              /* set when present */
} ctl_opt;

int ctl_opts_parse(const char *cmd, int argc, char **argv, const ctl_opt *opts);

#endif
