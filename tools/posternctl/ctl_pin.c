/*
 * ctl_pin.c - "posternctl pin --sender A --recipient B": check the PIN a
 * sender assigned to a recipient's temporary mailbox.
 *
 * Asks provision (PinQuery) for the PIN encrypted to the sender's own
 * OpenPGP key and prints the armored ciphertext. If the sender's secret
 * key is in the local keyring (GNUPGHOME, or ~/.gnupg), it decrypts it
 * there and prints one more line "PIN: nnnnnn" (gpg asks for the key's
 * passphrase in its usual way if it has one). The server never sees the
 * PIN in the clear again.
 *
 * Exit 0 when the ciphertext was printed (decrypted or not), 1 when there
 * is none for this sender and recipient or the broker did not answer, 2
 * on bad arguments.
 */
#include <stdio.h>

#include <czmq.h>
#include <gpgme.h>

#include "ctl.h"
#include "postern/bus.h"
#include "postern/calls.h"
#include "postern/cfg.h"
#include "postern/err.h"
#include "postern/log.h"
#include "postern/mem.h"

/* pin_usage - the synopsis */
static int pin_usage(FILE *out)
{
	fprintf(out, "usage: posternctl pin --sender A --recipient B\n");
	return out == stdout ? 0 : 2;
}

/* ctl_decrypt - cipher decrypted with the local keyring into *plain_r (gpgme_free it); 0 or -1 */
int ctl_decrypt(const char *cmd, const void *cipher, size_t len, char **plain_r, size_t *n_r)
{
	gpgme_ctx_t ctx = NULL;
	gpgme_data_t in = NULL, out = NULL;
	gpgme_error_t e;
	int rc = -1;

	*plain_r = NULL;
	*n_r = 0;
	if (!gpgme_check_version(NULL))
		return -1;
	if ((e = gpgme_new(&ctx)) != 0)
		goto done;
	gpgme_set_protocol(ctx, GPGME_PROTOCOL_OpenPGP);
	if ((e = gpgme_data_new_from_mem(&in, cipher, len, 0)) != 0 ||
	    (e = gpgme_data_new(&out)) != 0)
		goto done;
	if ((e = gpgme_op_decrypt(ctx, in, out)) != 0) {
		fprintf(stderr, "posternctl %s: cannot decrypt here (%s): the secret key is not "
		    "in this keyring\n", cmd, gpgme_strerror(e));
		goto done;
	}
	*plain_r = gpgme_data_release_and_get_mem(out, n_r);
	out = NULL;
	rc = *plain_r ? 0 : -1;
done:
	gpgme_data_release(in);
	gpgme_data_release(out);
	gpgme_release(ctx);
	return rc;
}

/* ctl_plain_free - wipe and free what ctl_decrypt gave */
void ctl_plain_free(char **plain, size_t n)
{
	if (*plain) {
		pn_wipe(*plain, n);
		gpgme_free(*plain);
		*plain = NULL;
	}
}

/* decrypt_pin - with the local keyring; prints "PIN: ..." on success, 0 or -1 */
static int decrypt_pin(const void *cipher, size_t len)
{
	char *plain = NULL;
	size_t n = 0;
	int rc = -1;

	if (ctl_decrypt("pin", cipher, len, &plain, &n) < 0)
		return -1;
	if (!plain || n == 0 || n > 64)
		goto done;
	for (size_t i = 0; i < n; i++)
		if (plain[i] < '0' || plain[i] > '9')
			goto done;
	printf("PIN: %.*s\n", (int)n, plain);
	rc = 0;
done:
	ctl_plain_free(&plain, n);
	return rc;
}

/* ctl_pin - posternctl pin --sender A --recipient B */
int ctl_pin(int argc, char **argv)
{
	Postern__V1__PinQuery q = POSTERN__V1__PIN_QUERY__INIT;
	const char *sender = NULL, *recipient = NULL, *why;
	Postern__V1__PinCiphertext *pin;
	pn_client *client = NULL;
	pn_pool *pool = NULL;
	int status = 1;
	pn_err rc;

	const ctl_opt opts[] = {
		{ "--sender", &sender, NULL },
		{ "--recipient", &recipient, NULL },
		{ NULL, NULL, NULL }
	};
	int parsed = ctl_opts_parse("pin", argc, argv, opts);

	if (parsed != 0 || !sender || !recipient)
		return pin_usage(parsed == 1 ? stdout : stderr);
	if (!(client = ctl_client("pin", 5000, &status)))
		return status;
	q.sender = (char *)sender;
	q.recipient = (char *)recipient;
	pool = pn_pool_new();
	rc = pn_prov_pin_query(client, pool, &q, &pin, &why);
	if (rc == PN_ERR_NOTFOUND) {
		fprintf(stderr, "posternctl pin: no PIN assigned by %s for %s\n", sender, recipient);
		goto done;
	}
	if (rc != PN_OK) {
		ctl_failed("pin", "provision", client, rc, why);
		goto done;
	}
	fwrite(pin->armored.data, 1, pin->armored.len, stdout);
	if (pin->armored.len && pin->armored.data[pin->armored.len - 1] != '\n')
		putchar('\n');
	fflush(stdout);
	decrypt_pin(pin->armored.data, pin->armored.len);
	status = 0;
done:
	pn_pool_destroy(&pool);
	ctl_client_done(&client);
	return status;
}
