/* The PKCS#11 config of a pkcs11 keyslot: kms.env as start-softhsm.sh
 * writes it, comments, quotes, export, relative paths, the PIN inline or
 * from a PIN file; missing or bad values, files others could have written,
 * oversized files refused; a PIN readable by others warned about. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "keystore/p11_config.h"

static char dir[64];
static char cfg_path[128];
static char pin_path[128];

static const char *write_file(const char *path, const char *text, size_t len, mode_t mode)
{
	int fd;

	unlink(path); /* a fresh file: ours, whatever the last test did */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

static const char *write_cfg(const char *text)
{
	return write_file(cfg_path, text, strlen(text), 0600);
}

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/cloakfs-p11cfg-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(cfg_path, sizeof(cfg_path), "%s/kms.env", dir);
	snprintf(pin_path, sizeof(pin_path), "%s/pin", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(cfg_path);
	unlink(pin_path);
	return rmdir(dir);
}

/* Runs the loader with stderr captured into out (NUL-terminated). */
static int load_capturing(struct ks_p11_config *c, char *out, size_t cap)
{
	char path[128];
	int saved = dup(2), fd, ret;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/stderr", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(saved >= 0 && fd >= 0);
	fflush(stderr);
	dup2(fd, 2);
	ret = ks_p11_config_load(cfg_path, c);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, out, cap - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
	return ret;
}

static void pin_is(const struct ks_p11_config *c, const char *want)
{
	assert_non_null(c->pin);
	assert_int_equal(c->pin_len, strlen(want));
	assert_memory_equal(c->pin, want, strlen(want));
}

static void kms_env_as_written_by_the_start_script(void **state)
{
	struct ks_p11_config c;

	(void)state;
	write_cfg("KMS_KIND=pkcs11\n"
		  "SOFTHSM2_CONF=/s/softhsm2.conf\n"
		  "PKCS11_MODULE=/usr/lib/softhsm/libsofthsm2.so\n"
		  "PKCS11_TOKEN_LABEL=kms-test\n"
		  "PKCS11_PIN=1234\n"
		  "PKCS11_SO_PIN=12345678\n"
		  "PKCS11_KEK_LABEL=kek\n"
		  "PKCS11_KEK_ID=01\n"
		  "PKCS11_STATE_DIR=/s\n"
		  "KMS_STOP_SCRIPT=/k/stop-kms.sh\n");
	assert_int_equal(ks_p11_config_load(cfg_path, &c), 0);
	assert_string_equal(c.module, "/usr/lib/softhsm/libsofthsm2.so");
	assert_string_equal(c.token, "kms-test");
	assert_string_equal(c.key, "kek");
	assert_string_equal(c.softhsm2_conf, "/s/softhsm2.conf");
	assert_int_equal(c.mech, KS_P11_AES_GCM);
	pin_is(&c, "1234"); /* not the SO PIN */
	ks_p11_config_clear(&c);
	assert_null(c.pin);
}

static void comments_quotes_export_and_relative_paths(void **state)
{
	struct ks_p11_config c;
	char want[256];

	(void)state;
	write_cfg("# a comment\n\n"
		  "  export PKCS11_MODULE=\"lib/module.so\"\n"
		  "PKCS11_TOKEN_LABEL='a token with spaces'\r\n"
		  "PKCS11_KEK_LABEL=kek two  \n"
		  "SOFTHSM2_CONF=conf/softhsm2.conf\n"
		  "PKCS11_MECHANISM=aes-key-wrap-pad\n"
		  "SOMETHING_ELSE=ignored\n");
	assert_int_equal(ks_p11_config_load(cfg_path, &c), 0);
	snprintf(want, sizeof(want), "%s/lib/module.so", dir);
	assert_string_equal(c.module, want);
	snprintf(want, sizeof(want), "%s/conf/softhsm2.conf", dir);
	assert_string_equal(c.softhsm2_conf, want);
	assert_string_equal(c.token, "a token with spaces");
	assert_string_equal(c.key, "kek two");
	assert_int_equal(c.mech, KS_P11_AES_KEY_WRAP_PAD);
	assert_null(c.pin); /* none given: to be asked for */
	ks_p11_config_clear(&c);
}

static void pin_from_a_pin_file_first_line(void **state)
{
	struct ks_p11_config c;
	char want[256];

	(void)state;
	write_file(pin_path, "s3cret pin\r\nsecond line\n", 24, 0600);
	write_cfg("PKCS11_MODULE=/m.so\nPKCS11_TOKEN_LABEL=t\nPKCS11_PIN_FILE=pin\n");
	assert_int_equal(ks_p11_config_load(cfg_path, &c), 0);
	pin_is(&c, "s3cret pin");
	ks_p11_config_clear(&c);

	/* No line end at all: the whole file. */
	write_file(pin_path, "4321", 4, 0400);
	snprintf(want, sizeof(want),
		 "PKCS11_MODULE=/m.so\nPKCS11_TOKEN_LABEL=t\nPKCS11_PIN_FILE=%s\n", pin_path);
	write_cfg(want);
	assert_int_equal(ks_p11_config_load(cfg_path, &c), 0);
	pin_is(&c, "4321");
	ks_p11_config_clear(&c);
}

static void pin_file_problems_refused(void **state)
{
	struct ks_p11_config c;

	(void)state;
	write_cfg("PKCS11_MODULE=/m.so\nPKCS11_TOKEN_LABEL=t\nPKCS11_PIN_FILE=pin\n");
	unlink(pin_path);
	assert_int_equal(ks_p11_config_load(cfg_path, &c), -ENOENT);
	write_file(pin_path, "\nsecond\n", 8, 0600);
	assert_int_equal(ks_p11_config_load(cfg_path, &c), -EINVAL); /* empty first line */
	write_file(pin_path, "1234\n", 5, 0602);
	assert_int_equal(ks_p11_config_load(cfg_path, &c), -EPERM); /* others may write it */
	write_file(pin_path, "1234\n", 5, 0600);
	write_cfg("PKCS11_MODULE=/m.so\nPKCS11_TOKEN_LABEL=t\nPKCS11_PIN_FILE=pin\nPKCS11_PIN=1\n");
	assert_int_equal(ks_p11_config_load(cfg_path, &c), -EINVAL); /* both */
	assert_null(c.pin);
}

static void empty_pin_means_none(void **state)
{
	struct ks_p11_config c;

	(void)state;
	write_cfg("PKCS11_MODULE=/m.so\nPKCS11_TOKEN_LABEL=t\nPKCS11_PIN=\n");
	assert_int_equal(ks_p11_config_load(cfg_path, &c), 0);
	assert_null(c.pin);
	assert_int_equal(c.pin_len, 0);
	assert_string_equal(c.key, ""); /* no default key label */
	assert_string_equal(c.softhsm2_conf, "");
	ks_p11_config_clear(&c);
}

static void bad_values_and_missing_keys_refused(void **state)
{
	static const char *const bad[] = {
	    "PKCS11_TOKEN_LABEL=t\n", /* no module */
	    "PKCS11_MODULE=/m.so\n",  /* no token */
	    "PKCS11_MODULE=/m.so\nPKCS11_TOKEN_LABEL=123456789012345678901234567890123\n",
	    "PKCS11_MODULE=/m.so\nPKCS11_TOKEN_LABEL=t\nPKCS11_MECHANISM=aes-cbc\n",
	    "PKCS11_MODULE=/m.so\nPKCS11_TOKEN_LABEL=t\nPKCS11_MECHANISM=\n",
	    "PKCS11_MODULE=/m.so\nPKCS11_TOKEN_LABEL=\n",
	    "PKCS11_MODULE=\nPKCS11_TOKEN_LABEL=t\n",
	    "PKCS11_MODULE=/m.so\nPKCS11_TOKEN_LABEL=t\nnot a line\n",
	    "PKCS11_MODULE=/m.so\nPKCS11_TOKEN_LABEL=t\n=value\n",
	    "PKCS11_MODULE=/m.so\nPKCS11_TOKEN_LABEL=t\nlower_case=1\n",
	};
	struct ks_p11_config c;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_cfg(bad[i]);
		assert_int_equal(ks_p11_config_load(cfg_path, &c), -EINVAL);
		assert_null(c.pin);
	}
	/* 32 bytes is the longest token label. */
	write_cfg("PKCS11_MODULE=/m.so\nPKCS11_TOKEN_LABEL=12345678901234567890123456789012\n");
	assert_int_equal(ks_p11_config_load(cfg_path, &c), 0);
	assert_int_equal(strlen(c.token), 32);
	ks_p11_config_clear(&c);
}

static void files_others_could_write_refused(void **state)
{
	static const mode_t bad_modes[] = {0620, 0602, 0666};
	static const char text[] = "PKCS11_MODULE=/m.so\nPKCS11_TOKEN_LABEL=t\n";
	struct ks_p11_config c;

	(void)state;
	for (size_t i = 0; i < sizeof(bad_modes) / sizeof(bad_modes[0]); i++) {
		write_file(cfg_path, text, strlen(text), bad_modes[i]);
		assert_int_equal(ks_p11_config_load(cfg_path, &c), -EPERM);
	}
	write_file(cfg_path, text, strlen(text), 0644);
	assert_int_equal(ks_p11_config_load(cfg_path, &c), 0);
	ks_p11_config_clear(&c);
	if (geteuid() != 0)
		skip(); /* chown to another user needs root */
	assert_int_equal(chown(cfg_path, 65534, 65534), 0);
	assert_int_equal(ks_p11_config_load(cfg_path, &c), -EPERM);
	assert_int_equal(chown(cfg_path, 0, 0), 0); /* root's own: accepted again */
	assert_int_equal(ks_p11_config_load(cfg_path, &c), 0);
	ks_p11_config_clear(&c);
}

static void not_a_regular_file_refused(void **state)
{
	struct ks_p11_config c;

	(void)state;
	unlink(cfg_path);
	assert_int_equal(ks_p11_config_load(cfg_path, &c), -ENOENT);
	assert_int_equal(ks_p11_config_load(dir, &c), -EINVAL);
}

static void oversized_or_nul_refused(void **state)
{
	size_t big = KS_P11_CONFIG_MAX + 1;
	char *text = malloc(big);
	struct ks_p11_config c;

	(void)state;
	assert_non_null(text);
	memset(text, '#', big);
	write_file(cfg_path, text, big, 0600);
	assert_int_equal(ks_p11_config_load(cfg_path, &c), -EFBIG);
	free(text);
	write_file(cfg_path, "PKCS11_MODULE=/m.so\nPKCS11_TOKEN_LABEL=t\0x\n", 43, 0600);
	assert_int_equal(ks_p11_config_load(cfg_path, &c), -EINVAL);
}

static void readable_pin_warned_about(void **state)
{
	static const char with_pin[] = "PKCS11_MODULE=/m.so\nPKCS11_TOKEN_LABEL=t\nPKCS11_PIN=9\n";
	static const char no_pin[] = "PKCS11_MODULE=/m.so\nPKCS11_TOKEN_LABEL=t\n";
	struct ks_p11_config c;
	char err[512];

	(void)state;
	write_file(cfg_path, with_pin, strlen(with_pin), 0644);
	assert_int_equal(load_capturing(&c, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "warning"));
	assert_non_null(strstr(err, "readable"));
	assert_null(strchr(strchr(err, '\n') + 1, '\n')); /* one line */
	ks_p11_config_clear(&c);

	write_file(cfg_path, with_pin, strlen(with_pin), 0600);
	assert_int_equal(load_capturing(&c, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	ks_p11_config_clear(&c);

	write_file(cfg_path, no_pin, strlen(no_pin), 0644); /* nothing secret in it */
	assert_int_equal(load_capturing(&c, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	ks_p11_config_clear(&c);

	write_file(pin_path, "1234\n", 5, 0640);
	write_cfg("PKCS11_MODULE=/m.so\nPKCS11_TOKEN_LABEL=t\nPKCS11_PIN_FILE=pin\n");
	assert_int_equal(load_capturing(&c, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "PIN file"));
	ks_p11_config_clear(&c);
}

static void mechanism_names(void **state)
{
	enum ks_p11_mech m;

	(void)state;
	assert_string_equal(ks_p11_mech_name(KS_P11_AES_GCM), "aes-gcm");
	assert_string_equal(ks_p11_mech_name(KS_P11_AES_KEY_WRAP_PAD), "aes-key-wrap-pad");
	assert_int_equal(ks_p11_mech_parse("aes-key-wrap-pad", 16, &m), 0);
	assert_int_equal(m, KS_P11_AES_KEY_WRAP_PAD);
	assert_int_equal(ks_p11_mech_parse("aes-gcm", 7, &m), 0);
	assert_int_equal(m, KS_P11_AES_GCM);
	assert_int_equal(ks_p11_mech_parse("aes-gcm", 6, &m), -EINVAL);
	assert_int_equal(ks_p11_mech_parse("AES-GCM", 7, &m), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(kms_env_as_written_by_the_start_script),
	    cmocka_unit_test(comments_quotes_export_and_relative_paths),
	    cmocka_unit_test(pin_from_a_pin_file_first_line),
	    cmocka_unit_test(pin_file_problems_refused),
	    cmocka_unit_test(empty_pin_means_none),
	    cmocka_unit_test(bad_values_and_missing_keys_refused),
	    cmocka_unit_test(files_others_could_write_refused),
	    cmocka_unit_test(not_a_regular_file_refused),
	    cmocka_unit_test(oversized_or_nul_refused),
	    cmocka_unit_test(readable_pin_warned_about),
	    cmocka_unit_test(mechanism_names),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
