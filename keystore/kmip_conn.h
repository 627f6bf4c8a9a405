/* The transport of the KMIP client: one request, one response, over a fresh
 * mutual-TLS connection with timeouts and bounded, backed-off retries of
 * the connect. Internal to keystore/kmip_client.c. */
#ifndef CLOAKFS_KEYSTORE_KMIP_CONN_H
#define CLOAKFS_KEYSTORE_KMIP_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "keystore/kms_config.h"

/* Sends req (req_len bytes) and reads one whole TTLV message into resp
 * (cap bytes). what names the operation for error lines. Returns the
 * response length, or -ECONNREFUSED, -ETIMEDOUT (connect), -ETIME (no
 * answer in time), -EHOSTUNREACH, -EPROTO,
 * -EBADMSG, -ENOMEM, -EIO (see kmip_client.h). */
long ks_kmip_exchange(const struct ks_kms_config *cfg, const char *what, const uint8_t *req,
		      size_t req_len, uint8_t *resp, size_t cap);

#endif
