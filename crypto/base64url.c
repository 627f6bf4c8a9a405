/* base64url (RFC 4648 §5) without padding. The decoder is strict so that every
 * byte string has exactly one encoding: encrypted names compare as strings. */
#include "crypto/base64url.h"

#include <errno.h>

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* 0..63, or -1 for a character outside the alphabet (including '=' and NUL). */
static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

size_t crypto_b64url_encoded_len(size_t n)
{
	return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

long crypto_b64url_encode(const uint8_t *in, size_t n, char *out, size_t out_cap)
{
	size_t need = crypto_b64url_encoded_len(n);
	size_t i, o = 0;

	if (out_cap < need + 1)
		return -ENOSPC;
	for (i = 0; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = b64_alphabet[(v >> 6) & 63];
		out[o++] = b64_alphabet[v & 63];
	}
	if (n - i == 1) {
		out[o++] = b64_alphabet[in[i] >> 2];
		out[o++] = b64_alphabet[(in[i] & 3) << 4];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 8 | in[i + 1];

		out[o++] = b64_alphabet[v >> 10];
		out[o++] = b64_alphabet[(v >> 4) & 63];
		out[o++] = b64_alphabet[(v & 15) << 2];
	}
	out[o] = '\0';
	return (long)o;
}

long crypto_b64url_decode(const char *in, size_t n, uint8_t *out, size_t out_cap)
{
	size_t rem = n % 4;
	size_t need = n / 4 * 3 + (rem ? rem - 1 : 0);
	size_t i, o = 0;
	uint32_t acc = 0;
	int bits = 0;

	/* One leftover character carries 6 bits: less than a byte. */
	if (rem == 1)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (b64_value((unsigned char)in[i]) < 0)
			return -EINVAL;
	}
	if (out_cap < need)
		return -ENOSPC;
	for (i = 0; i < n; i++) {
		acc = (acc << 6 | (uint32_t)b64_value((unsigned char)in[i])) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	/* Leftover bits (2 or 4) must be zero, or two strings decode alike. */
	if (bits > 0 && (acc & ((1U << bits) - 1)) != 0)
		return -EINVAL;
	return (long)o;
}
