/* Recovery keys as people write them down (docs/FORMAT.md §5.2): 32 random
 * bytes shown as 8 groups of 8 Crockford base32 characters, each group
 * carrying a check character bound to its position, plus an overall check,
 * so a mistyped character or swapped neighbours are caught and the group
 * named. */
#ifndef CLOAKFS_KEYSTORE_RECOVERY_KEY_H
#define CLOAKFS_KEYSTORE_RECOVERY_KEY_H

#include <stddef.h>
#include <stdint.h>

#define KS_RECOVERY_KEY_LEN 32
#define KS_RECOVERY_GROUPS 8
#define KS_RECOVERY_GROUP_LEN 8
/* "XXXXXXXX-XXXXXXXX-...": 8 groups, 7 dashes, NUL. */
#define KS_RECOVERY_TEXT_LEN (KS_RECOVERY_GROUPS * (KS_RECOVERY_GROUP_LEN + 1))

enum ks_recovery_error {
	KS_RECOVERY_OK = 0,
	KS_RECOVERY_GROUP_COUNT, /* not 8 groups (count = how many) */
	KS_RECOVERY_GROUP_SIZE,	 /* group `group` has `count` characters, not 8 */
	KS_RECOVERY_BAD_CHAR,	 /* group `group` holds `bad_char`, not in the alphabet */
	KS_RECOVERY_GROUP_CHECK, /* group `group`'s check character does not match */
	KS_RECOVERY_KEY_CHECK,	 /* every group checks, the overall check does not */
};

struct ks_recovery_status {
	enum ks_recovery_error error;
	int group; /* 1-based, where the error names one */
	int count;
	char bad_char;
};

/* text: KS_RECOVERY_TEXT_LEN bytes, NUL-terminated, groups joined by '-'.
 * Returns 0 or -EIO. */
int ks_recovery_encode(const uint8_t key[KS_RECOVERY_KEY_LEN], char text[KS_RECOVERY_TEXT_LEN]);

/* Accepts upper or lower case, I/L for 1 and O for 0 (Crockford), and any
 * spaces, tabs, dashes or newlines between groups; the groups are either
 * separated (8 of them) or written as one run of 64 characters. Returns 0
 * (key set), -EINVAL (status says what and where; key wiped). */
int ks_recovery_decode(const char *text, size_t len, uint8_t key[KS_RECOVERY_KEY_LEN],
		       struct ks_recovery_status *status);

/* One line describing a decode failure, e.g. "group 3 is mistyped: its check
 * character does not match". Returns buf. */
const char *ks_recovery_strerror(const struct ks_recovery_status *status, char *buf, size_t len);

#endif
