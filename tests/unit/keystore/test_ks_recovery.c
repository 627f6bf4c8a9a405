/* Recovery key encoding (FORMAT.md §5.2): round trips, a frozen vector
 * computed by an independent Python encoder, and every single-character
 * error and adjacent transposition caught and blamed on the right group. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/random.h"
#include "keystore/recovery_key.h"

static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* Key 00 01 .. 1f, encoded by a separate Python implementation of §5.2. */
static const char frozen_text[] =
    "000G40R2-40M30E2R-09185GRT-38E1W816-24GK2GAH-HC5RR349-D1P70X38-RFGZER30";

static void frozen_vector(void **state)
{
	uint8_t key[KS_RECOVERY_KEY_LEN], back[KS_RECOVERY_KEY_LEN];
	char text[KS_RECOVERY_TEXT_LEN];
	struct ks_recovery_status st;

	(void)state;
	for (int i = 0; i < KS_RECOVERY_KEY_LEN; i++)
		key[i] = (uint8_t)i;
	assert_int_equal(ks_recovery_encode(key, text), 0);
	assert_string_equal(text, frozen_text);
	assert_int_equal(ks_recovery_decode(frozen_text, strlen(frozen_text), back, &st), 0);
	assert_memory_equal(back, key, sizeof(key));
}

static void round_trip(void **state)
{
	uint8_t key[KS_RECOVERY_KEY_LEN], back[KS_RECOVERY_KEY_LEN];
	char text[KS_RECOVERY_TEXT_LEN];
	struct ks_recovery_status st;

	(void)state;
	for (int n = 0; n < 500; n++) {
		assert_int_equal(crypto_random_bytes(key, sizeof(key)), 0);
		assert_int_equal(ks_recovery_encode(key, text), 0);
		assert_int_equal(strlen(text), KS_RECOVERY_TEXT_LEN - 1);
		for (int i = 0; i < KS_RECOVERY_TEXT_LEN - 1; i++) {
			if (i % 9 == 8)
				assert_int_equal(text[i], '-');
			else
				assert_non_null(strchr(alphabet, text[i]));
		}
		assert_int_equal(ks_recovery_decode(text, strlen(text), back, &st), 0);
		assert_int_equal(st.error, KS_RECOVERY_OK);
		assert_memory_equal(back, key, sizeof(key));
	}
}

/* text position of character i (0..63) of the dashed form */
static int pos(int i)
{
	return i / 8 * 9 + i % 8;
}

static void expect_group_error(const char *text, int group, const char *what)
{
	uint8_t back[KS_RECOVERY_KEY_LEN];
	struct ks_recovery_status st;

	if (ks_recovery_decode(text, strlen(text), back, &st) != -EINVAL ||
	    st.error != KS_RECOVERY_GROUP_CHECK || st.group != group)
		fail_msg("%s: %s: error %d in group %d, want a check error in group %d", what, text,
			 st.error, st.group, group);
}

static void every_substitution_is_caught(void **state)
{
	uint8_t key[KS_RECOVERY_KEY_LEN];
	char text[KS_RECOVERY_TEXT_LEN], bad[KS_RECOVERY_TEXT_LEN];

	(void)state;
	for (int n = 0; n < 4; n++) {
		assert_int_equal(crypto_random_bytes(key, sizeof(key)), 0);
		assert_int_equal(ks_recovery_encode(key, text), 0);
		for (int i = 0; i < 64; i++)
			for (int a = 0; a < 32; a++) {
				if (alphabet[a] == text[pos(i)])
					continue;
				memcpy(bad, text, sizeof(text));
				bad[pos(i)] = alphabet[a];
				expect_group_error(bad, i / 8 + 1, "substitution");
			}
	}
}

static void every_transposition_is_caught(void **state)
{
	uint8_t key[KS_RECOVERY_KEY_LEN];
	char text[KS_RECOVERY_TEXT_LEN], bad[KS_RECOVERY_TEXT_LEN];
	int tried = 0;

	(void)state;
	for (int n = 0; n < 50; n++) {
		assert_int_equal(crypto_random_bytes(key, sizeof(key)), 0);
		assert_int_equal(ks_recovery_encode(key, text), 0);
		/* Neighbours in a group, the check character included, and the
		 * two characters on either side of a dash. */
		for (int i = 0; i < 63; i++) {
			char t;

			if (text[pos(i)] == text[pos(i + 1)])
				continue; /* swapping equal characters changes nothing */
			memcpy(bad, text, sizeof(text));
			t = bad[pos(i)];
			bad[pos(i)] = bad[pos(i + 1)];
			bad[pos(i + 1)] = t;
			expect_group_error(bad, i / 8 + 1, "transposition");
			tried++;
		}
	}
	assert_true(tried > 2500);
}

/* A whole valid group typed at another position fails its position check. */
static void swapped_groups_are_caught(void **state)
{
	uint8_t key[KS_RECOVERY_KEY_LEN];
	char text[KS_RECOVERY_TEXT_LEN], bad[KS_RECOVERY_TEXT_LEN];

	(void)state;
	assert_int_equal(crypto_random_bytes(key, sizeof(key)), 0);
	assert_int_equal(ks_recovery_encode(key, text), 0);
	for (int g = 0; g < 7; g++) {
		memcpy(bad, text, sizeof(text));
		memcpy(bad + g * 9, text + (g + 1) * 9, 8);
		memcpy(bad + (g + 1) * 9, text + g * 9, 8);
		if (memcmp(bad, text, sizeof(text)) != 0)
			expect_group_error(bad, g + 1, "swapped groups");
	}
}

static void lenient_input_is_accepted(void **state)
{
	uint8_t key[KS_RECOVERY_KEY_LEN], back[KS_RECOVERY_KEY_LEN];
	char variant[256];
	struct ks_recovery_status st;

	(void)state;
	for (int i = 0; i < KS_RECOVERY_KEY_LEN; i++)
		key[i] = (uint8_t)i;
	/* lower case, spaces, no separators, newline, O for 0 and l for 1 */
	const char *forms[] = {
	    "000g40r2-40m30e2r-09185grt-38e1w816-24gk2gah-hc5rr349-d1p70x38-rfgzer30\n",
	    "000G40R2 40M30E2R 09185GRT 38E1W816 24GK2GAH HC5RR349 D1P70X38 RFGZER30",
	    "000G40R240M30E2R09185GRT38E1W81624GK2GAHHC5RR349D1P70X38RFGZER30",
	    "  OOOG4OR2 - 4OM3OE2R - O9l85GRT - 38E1W8l6\n24GK2GAH - HC5RR349 - D1P7OX38 - "
	    "RFGZER3O  ",
	};
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		snprintf(variant, sizeof(variant), "%s", forms[i]);
		if (ks_recovery_decode(variant, strlen(variant), back, &st) != 0)
			fail_msg("form %zu refused: error %d group %d", i, st.error, st.group);
		assert_memory_equal(back, key, sizeof(key));
	}
}

static void malformed_input_names_the_group(void **state)
{
	uint8_t back[KS_RECOVERY_KEY_LEN];
	struct ks_recovery_status st;
	char buf[256];

	(void)state;
	/* group 4 lost a character: the groups are separated, so it is named */
	snprintf(buf, sizeof(buf), "%s",
		 "000G40R2-40M30E2R-09185GRT-38EW816-24GK2GAH-HC5RR349-"
		 "D1P70X38-RFGZER30");
	assert_int_equal(ks_recovery_decode(buf, strlen(buf), back, &st), -EINVAL);
	assert_int_equal(st.error, KS_RECOVERY_GROUP_SIZE);
	assert_int_equal(st.group, 4);
	assert_int_equal(st.count, 7);
	/* a U in group 6 */
	snprintf(buf, sizeof(buf), "%s", frozen_text);
	buf[5 * 9 + 2] = 'U';
	assert_int_equal(ks_recovery_decode(buf, strlen(buf), back, &st), -EINVAL);
	assert_int_equal(st.error, KS_RECOVERY_BAD_CHAR);
	assert_int_equal(st.group, 6);
	assert_int_equal(st.bad_char, 'U');
	/* one group missing */
	snprintf(buf, sizeof(buf), "%.62s", frozen_text);
	assert_int_equal(ks_recovery_decode(buf, strlen(buf), back, &st), -EINVAL);
	assert_int_equal(st.error, KS_RECOVERY_GROUP_COUNT);
	assert_int_equal(st.count, 7);
	assert_int_equal(ks_recovery_decode("", 0, back, &st), -EINVAL);
	assert_int_equal(st.error, KS_RECOVERY_GROUP_COUNT);
	/* the message names the group */
	snprintf(buf, sizeof(buf), "%s", frozen_text);
	buf[2 * 9 + 3] = buf[2 * 9 + 3] == 'A' ? 'B' : 'A';
	assert_int_equal(ks_recovery_decode(buf, strlen(buf), back, &st), -EINVAL);
	assert_non_null(strstr(ks_recovery_strerror(&st, buf, sizeof(buf)), "group 3"));
}

/* Two compensating errors in one group pass its check (a 5-bit check cannot
 * catch everything); the overall check still refuses the key. */
static void overall_check_catches_what_groups_miss(void **state)
{
	uint8_t back[KS_RECOVERY_KEY_LEN];
	struct ks_recovery_status st;
	char buf[KS_RECOVERY_TEXT_LEN];
	int found = 0;

	(void)state;
	for (int a = 0; a < 32 && !found; a++)
		for (int b = 0; b < 32 && !found; b++) {
			snprintf(buf, sizeof(buf), "%s", frozen_text);
			if (alphabet[a] == buf[0] || alphabet[b] == buf[1])
				continue;
			buf[0] = alphabet[a];
			buf[1] = alphabet[b];
			if (ks_recovery_decode(buf, strlen(buf), back, &st) == -EINVAL &&
			    st.error == KS_RECOVERY_KEY_CHECK)
				found = 1;
			else
				assert_int_equal(st.error, KS_RECOVERY_GROUP_CHECK);
		}
	assert_true(found);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(frozen_vector),
	    cmocka_unit_test(round_trip),
	    cmocka_unit_test(every_substitution_is_caught),
	    cmocka_unit_test(every_transposition_is_caught),
	    cmocka_unit_test(swapped_groups_are_caught),
	    cmocka_unit_test(lenient_input_is_accepted),
	    cmocka_unit_test(malformed_input_names_the_group),
	    cmocka_unit_test(overall_check_catches_what_groups_miss),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
