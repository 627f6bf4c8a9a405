/* The KMS client config: kms.env as start-pykmip.sh writes it, comments,
 * quotes, export, relative paths, defaults; bad lines, out-of-range values
 * and missing required keys refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "keystore/kms_config.h"

static char dir[64];

static const char *write_cfg(const char *text)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/kms.env", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/cloakfs-kmscfg-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/kms.env", dir);
	unlink(path);
	return rmdir(dir);
}

static void kms_env_as_written_by_the_start_script(void **state)
{
	struct ks_kms_config c;

	(void)state;
	assert_int_equal(ks_kms_config_load(write_cfg("KMS_KIND=kmip\n"
						      "KMIP_HOST=127.0.0.1\n"
						      "KMIP_PORT=5697\n"
						      "KMIP_CA_CERT=/s/ca.crt\n"
						      "KMIP_CLIENT_CERT=/s/client.crt\n"
						      "KMIP_CLIENT_KEY=/s/client.key\n"
						      "KMIP_PROTOCOL_VERSIONS=1.0,1.1,1.2\n"
						      "KMIP_PID=123\n"),
					    &c),
			 0);
	assert_string_equal(c.host, "127.0.0.1");
	assert_int_equal(c.port, 5697);
	assert_string_equal(c.ca_cert, "/s/ca.crt");
	assert_string_equal(c.client_cert, "/s/client.crt");
	assert_string_equal(c.client_key, "/s/client.key");
	assert_int_equal(c.connect_timeout_ms, 5000);
	assert_int_equal(c.io_timeout_ms, 10000);
	assert_int_equal(c.retries, 2);
}

static void comments_quotes_export_and_relative_paths(void **state)
{
	struct ks_kms_config c;
	char want[160];

	(void)state;
	assert_int_equal(ks_kms_config_load(write_cfg("# a comment\n\n"
						      "export KMIP_HOST=\"kms.example\"\n"
						      "  KMIP_CA_CERT='ca.crt'\r\n"
						      "KMIP_CLIENT_CERT=certs/c.crt\n"
						      "KMIP_CLIENT_KEY=/k\n"
						      "KMIP_RETRIES=0\n"
						      "KMIP_IO_TIMEOUT_MS=2500"),
					    &c),
			 0);
	assert_string_equal(c.host, "kms.example");
	assert_int_equal(c.port, 5696);
	snprintf(want, sizeof(want), "%s/ca.crt", dir);
	assert_string_equal(c.ca_cert, want);
	snprintf(want, sizeof(want), "%s/certs/c.crt", dir);
	assert_string_equal(c.client_cert, want);
	assert_int_equal(c.retries, 0);
	assert_int_equal(c.io_timeout_ms, 2500);
}

static void bad_configs_are_refused(void **state)
{
	static const char *const bad[] = {
	    "KMIP_HOST=h\nKMIP_CA_CERT=/a\nKMIP_CLIENT_CERT=/b\n",	  /* no key */
	    "KMIP_CA_CERT=/a\nKMIP_CLIENT_CERT=/b\nKMIP_CLIENT_KEY=/c\n", /* no host */
	    "KMIP_HOST=h\nKMIP_PORT=0\nKMIP_CA_CERT=/a\nKMIP_CLIENT_CERT=/b\nKMIP_CLIENT_KEY=/c\n",
	    "KMIP_HOST=h\nKMIP_PORT=65536\nKMIP_CA_CERT=/a\nKMIP_CLIENT_CERT=/b\nKMIP_CLIENT_KEY=/"
	    "c\n",
	    "KMIP_HOST=h\nKMIP_PORT=12x\nKMIP_CA_CERT=/a\nKMIP_CLIENT_CERT=/b\nKMIP_CLIENT_KEY=/"
	    "c\n",
	    "KMIP_HOST=h\nKMIP_RETRIES=11\nKMIP_CA_CERT=/a\nKMIP_CLIENT_CERT=/b\nKMIP_CLIENT_KEY=/"
	    "c\n",
	    "KMIP_HOST=h\nnot a line\nKMIP_CA_CERT=/a\nKMIP_CLIENT_CERT=/b\nKMIP_CLIENT_KEY=/c\n",
	    "KMIP_HOST=\nKMIP_CA_CERT=/a\nKMIP_CLIENT_CERT=/b\nKMIP_CLIENT_KEY=/c\n",
	    "kmip_host=h\nKMIP_CA_CERT=/a\nKMIP_CLIENT_CERT=/b\nKMIP_CLIENT_KEY=/c\n",
	};
	struct ks_kms_config c;
	char path[128];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ks_kms_config_load(write_cfg(bad[i]), &c), -EINVAL);
	snprintf(path, sizeof(path), "%s/missing.env", dir);
	assert_int_equal(ks_kms_config_load(path, &c), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(kms_env_as_written_by_the_start_script),
	    cmocka_unit_test(comments_quotes_export_and_relative_paths),
	    cmocka_unit_test(bad_configs_are_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
