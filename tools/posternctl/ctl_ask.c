/*
 * ctl_ask.c - what posternctl asks of the person at the keyboard: the
 * proof of a key (a challenge from provision decrypted with the local
 * keyring, for reissue and revoke) and the confirmation of an operator's
 * mailbox command.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "ctl.h"
#include "postern/mem.h"

#define TOKEN_ALPHABET "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

int ctl_token_from(const char *cmd, const ProtobufCBinaryData *challenge, char token[44])
{
	char *plain = NULL;
	size_t n = 0;
	int rc = -1;

	if (ctl_decrypt(cmd, challenge->data, challenge->len, &plain, &n) < 0)
		return -1;
	if (n == 43) {
		memcpy(token, plain, 43);
		token[43] = '\0';
		rc = strspn(token, TOKEN_ALPHABET) == 43 ? 0 : -1;
	}
	if (rc < 0)
		fprintf(stderr, "posternctl %s: the challenge is not a token\n", cmd);
	ctl_plain_free(&plain, n);
	return rc;
}

int ctl_confirm(const char *cmd, int yes, const char *what)
{
	char line[64];

	if (yes)
		return 0;
	if (!isatty(STDIN_FILENO)) {
		fprintf(stderr, "posternctl %s: not confirmed: standard input is not a terminal "
		    "(add --yes to %s)\n", cmd, what);
		return -1;
	}
	fprintf(stderr, "%s? [y/N] ", what);
	fflush(stderr);
	if (!fgets(line, sizeof(line), stdin))
		line[0] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	if (!strcasecmp(line, "y") || !strcasecmp(line, "yes"))
		return 0;
	fprintf(stderr, "posternctl %s: not confirmed, nothing done\n", cmd);
	return -1;
}
