/* The written form of recovery keys (docs/FORMAT.md §5.2): Crockford base32,
 * a GF(32) check character per group, a SHA-256 check over the whole key. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "crypto/kdf.h"
#include "crypto/secmem.h"
#include "keystore/recovery_key.h"

#define CHECK_LEN 3					     /* bytes of the overall check */
#define DATA_LEN (KS_RECOVERY_KEY_LEN + CHECK_LEN)	     /* 35 bytes = 280 bits */
#define DATA_SYMBOLS (DATA_LEN * 8 / 5)			     /* 56 */
#define GROUP_DATA (KS_RECOVERY_GROUP_LEN - 1)		     /* 7 */
#define SYMBOLS (KS_RECOVERY_GROUPS * KS_RECOVERY_GROUP_LEN) /* 64 */
#define CHECK_INFO "cloakfs v1 recovery-check"

static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* GF(2^5) with x^5 + x^2 + 1 (primitive: x generates all 31 non-zero
 * elements). Addition is XOR. */
static uint8_t gf_mul(uint8_t a, uint8_t b)
{
	uint8_t r = 0;

	for (int i = 0; i < 5; i++) {
		if (b & 1)
			r ^= a;
		b >>= 1;
		a <<= 1;
		if (a & 0x20)
			a ^= 0x25;
	}
	return r;
}

static uint8_t gf_pow_x(unsigned n)
{
	uint8_t r = 1;

	while (n--)
		r = gf_mul(r, 2);
	return r;
}

/* The syndrome of one group: data symbol i weighs x^(i+1), the check symbol
 * x^0. A valid group g has syndrome x^(8+g). The eight weights are distinct
 * and non-zero, so changing one symbol, or swapping two different adjacent
 * ones (the check included), always changes the syndrome; the target depends
 * on g, so a valid group typed at another position fails too. */
static uint8_t group_syndrome(const uint8_t sym[KS_RECOVERY_GROUP_LEN])
{
	uint8_t s = sym[GROUP_DATA];

	for (int i = 0; i < GROUP_DATA; i++)
		s ^= gf_mul(gf_pow_x((unsigned)i + 1), sym[i]);
	return s;
}

static uint8_t group_target(int g)
{
	return gf_pow_x(8 + (unsigned)g);
}

static int overall_check(const uint8_t key[KS_RECOVERY_KEY_LEN], uint8_t out[CHECK_LEN])
{
	uint8_t buf[sizeof(CHECK_INFO) - 1 + KS_RECOVERY_KEY_LEN], h[32];
	int ret;

	memcpy(buf, CHECK_INFO, sizeof(CHECK_INFO) - 1);
	memcpy(buf + sizeof(CHECK_INFO) - 1, key, KS_RECOVERY_KEY_LEN);
	ret = crypto_sha256(buf, sizeof(buf), h);
	memcpy(out, h, CHECK_LEN);
	crypto_wipe(buf, sizeof(buf));
	crypto_wipe(h, sizeof(h));
	return ret;
}

/* 280 bits, most significant first, into 56 five-bit symbols. */
static void bytes_to_symbols(const uint8_t data[DATA_LEN], uint8_t sym[DATA_SYMBOLS])
{
	for (int i = 0; i < DATA_SYMBOLS; i++) {
		uint8_t v = 0;

		for (int b = 0; b < 5; b++) {
			int bit = i * 5 + b;

			v = (uint8_t)(v << 1 | ((data[bit / 8] >> (7 - bit % 8)) & 1));
		}
		sym[i] = v;
	}
}

static void symbols_to_bytes(const uint8_t sym[DATA_SYMBOLS], uint8_t data[DATA_LEN])
{
	memset(data, 0, DATA_LEN);
	for (int i = 0; i < DATA_SYMBOLS; i++)
		for (int b = 0; b < 5; b++) {
			int bit = i * 5 + b;

			if ((sym[i] >> (4 - b)) & 1)
				data[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
		}
}

int ks_recovery_encode(const uint8_t key[KS_RECOVERY_KEY_LEN], char text[KS_RECOVERY_TEXT_LEN])
{
	uint8_t data[DATA_LEN], sym[DATA_SYMBOLS], group[KS_RECOVERY_GROUP_LEN];
	char *p = text;
	int ret;

	memcpy(data, key, KS_RECOVERY_KEY_LEN);
	ret = overall_check(key, data + KS_RECOVERY_KEY_LEN);
	if (ret < 0)
		goto out;
	bytes_to_symbols(data, sym);
	for (int g = 0; g < KS_RECOVERY_GROUPS; g++) {
		memcpy(group, sym + g * GROUP_DATA, GROUP_DATA);
		group[GROUP_DATA] = 0;
		group[GROUP_DATA] = group_syndrome(group) ^ group_target(g);
		if (g > 0)
			*p++ = '-';
		for (int i = 0; i < KS_RECOVERY_GROUP_LEN; i++)
			*p++ = alphabet[group[i]];
	}
	*p = '\0';
out:
	crypto_wipe(data, sizeof(data));
	crypto_wipe(sym, sizeof(sym));
	crypto_wipe(group, sizeof(group));
	return ret;
}

/* Crockford's reading: case-insensitive, I and L are 1, O is 0. */
static int symbol_of(char c)
{
	if (c >= 'a' && c <= 'z')
		c = (char)(c - 'a' + 'A');
	if (c == 'I' || c == 'L')
		c = '1';
	if (c == 'O')
		c = '0';
	for (int i = 0; i < 32; i++)
		if (alphabet[i] == c)
			return i;
	return -1;
}

static int is_separator(char c)
{
	return c == ' ' || c == '\t' || c == '-' || c == '\n' || c == '\r';
}

/* Splits text into 8 groups of 8 characters: 8 separated groups, or one run
 * of 64 (or any grouping adding up to 64) cut every 8. */
static int split_groups(const char *text, size_t len, char out[SYMBOLS],
			struct ks_recovery_status *st)
{
	size_t total = 0, tok_len = 0;
	int ntok = 0, sizes_ok = 1, bad_group = 0, bad_size = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && !is_separator(text[i])) {
			if (total < SYMBOLS)
				out[total] = text[i];
			total++;
			tok_len++;
			continue;
		}
		if (tok_len == 0)
			continue;
		ntok++;
		if (tok_len != KS_RECOVERY_GROUP_LEN && sizes_ok) {
			sizes_ok = 0;
			bad_group = ntok;
			bad_size = (int)tok_len;
		}
		tok_len = 0;
	}
	if (ntok == KS_RECOVERY_GROUPS && !sizes_ok) {
		st->error = KS_RECOVERY_GROUP_SIZE;
		st->group = bad_group;
		st->count = bad_size;
		return -EINVAL;
	}
	if (total != SYMBOLS) {
		st->error = KS_RECOVERY_GROUP_COUNT;
		st->count = ntok;
		return -EINVAL;
	}
	return 0;
}

static int decode_groups(const char chars[SYMBOLS], uint8_t sym[DATA_SYMBOLS],
			 struct ks_recovery_status *st)
{
	uint8_t group[KS_RECOVERY_GROUP_LEN];
	int ret = 0;

	for (int g = 0; g < KS_RECOVERY_GROUPS && ret == 0; g++) {
		for (int i = 0; i < KS_RECOVERY_GROUP_LEN; i++) {
			int v = symbol_of(chars[g * KS_RECOVERY_GROUP_LEN + i]);

			if (v < 0) {
				st->error = KS_RECOVERY_BAD_CHAR;
				st->group = g + 1;
				st->bad_char = chars[g * KS_RECOVERY_GROUP_LEN + i];
				ret = -EINVAL;
				break;
			}
			group[i] = (uint8_t)v;
		}
		if (ret == 0 && group_syndrome(group) != group_target(g)) {
			st->error = KS_RECOVERY_GROUP_CHECK;
			st->group = g + 1;
			ret = -EINVAL;
		}
		if (ret == 0)
			memcpy(sym + g * GROUP_DATA, group, GROUP_DATA);
	}
	crypto_wipe(group, sizeof(group));
	return ret;
}

int ks_recovery_decode(const char *text, size_t len, uint8_t key[KS_RECOVERY_KEY_LEN],
		       struct ks_recovery_status *st)
{
	char chars[SYMBOLS];
	uint8_t sym[DATA_SYMBOLS], data[DATA_LEN], check[CHECK_LEN];
	int ret;

	memset(st, 0, sizeof(*st));
	ret = split_groups(text, len, chars, st);
	if (ret == 0)
		ret = decode_groups(chars, sym, st);
	if (ret < 0)
		goto out;
	symbols_to_bytes(sym, data);
	ret = overall_check(data, check);
	if (ret < 0)
		goto out;
	if (!crypto_memeq(check, data + KS_RECOVERY_KEY_LEN, CHECK_LEN)) {
		st->error = KS_RECOVERY_KEY_CHECK;
		ret = -EINVAL;
		goto out;
	}
	memcpy(key, data, KS_RECOVERY_KEY_LEN);
out:
	if (ret < 0)
		crypto_wipe(key, KS_RECOVERY_KEY_LEN);
	crypto_wipe(chars, sizeof(chars));
	crypto_wipe(sym, sizeof(sym));
	crypto_wipe(data, sizeof(data));
	return ret;
}

const char *ks_recovery_strerror(const struct ks_recovery_status *st, char *buf, size_t len)
{
	switch (st->error) {
	case KS_RECOVERY_OK:
		snprintf(buf, len, "recovery key OK");
		break;
	case KS_RECOVERY_GROUP_COUNT:
		snprintf(buf, len,
			 "a recovery key is 8 groups of 8 characters; this has %d group%s and the "
			 "wrong number of characters",
			 st->count, st->count == 1 ? "" : "s");
		break;
	case KS_RECOVERY_GROUP_SIZE:
		snprintf(buf, len, "group %d of the recovery key has %d characters, not 8",
			 st->group, st->count);
		break;
	case KS_RECOVERY_BAD_CHAR:
		if (st->bad_char >= 0x21 && st->bad_char < 0x7f)
			snprintf(buf, len,
				 "group %d of the recovery key holds '%c', which recovery keys "
				 "never use",
				 st->group, st->bad_char);
		else
			snprintf(buf, len,
				 "group %d of the recovery key holds a character recovery keys "
				 "never use",
				 st->group);
		break;
	case KS_RECOVERY_GROUP_CHECK:
		snprintf(buf, len,
			 "group %d of the recovery key is mistyped (its check character does not "
			 "match): compare it with the written copy",
			 st->group);
		break;
	case KS_RECOVERY_KEY_CHECK:
		snprintf(buf, len,
			 "the recovery key's overall check does not match although each group "
			 "does: several characters are mistyped, or groups are in the wrong order");
		break;
	}
	return buf;
}
