/* Per-thread cache of keyed contexts for names, xattrs and symlinks.
 *
 * Why: the daemon encrypts a name on every lookup from many threads at once.
 * Building an EVP context and key schedule per call costs more than the
 * encryption itself, and one shared context would need a lock on the hot path.
 * So each thread keeps a few contexts, found by the address of the key bytes.
 * An address alone is not proof of identity (a freed key struct can be reused
 * at the same address with other bytes, e.g. on the stack), so a hit also
 * compares the key in constant time against a copy kept in a per-thread
 * secure allocation (locked, no dump, wiped at thread exit). */
#include "crypto/ctx_cache_internal.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>

#include "crypto/secmem.h"

#define CACHE_SLOTS 8 /* 4 keyed contexts per volume; rekey/fsck hold two volumes */

enum slot_kind { SLOT_EMPTY, SLOT_AEAD, SLOT_HMAC };

/* Slots live in TLS (where leak checkers can see the context pointers); only
 * the key copies live in the secure allocation. */
struct cache_slot {
	const uint8_t *key_addr;
	enum slot_kind kind;
	uint8_t *key; /* CRYPTO_KEY_LEN bytes inside keys_mem */
	struct crypto_aead *aead;
	EVP_MAC_CTX *mac;
};

struct ctx_cache {
	struct cache_slot slot[CACHE_SLOTS];
	unsigned int next_victim;
	uint8_t *keys_mem; /* secure: CACHE_SLOTS keys; NULL until first use */
};

static _Thread_local struct ctx_cache tls_cache;
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static int cache_key_ok;
static EVP_MAC *cache_hmac_alg;

static void slot_clear(struct cache_slot *s)
{
	crypto_aead_free(s->aead);
	EVP_MAC_CTX_free(s->mac);
	s->aead = NULL;
	s->mac = NULL;
	s->kind = SLOT_EMPTY;
	s->key_addr = NULL;
	crypto_wipe(s->key, CRYPTO_KEY_LEN);
}

/* Thread exit: free the contexts and wipe the key copies. */
static void cache_destroy(void *arg)
{
	struct ctx_cache *c = arg;
	size_t i;

	for (i = 0; i < CACHE_SLOTS; i++)
		slot_clear(&c->slot[i]);
	crypto_secure_free(c->keys_mem);
	memset(c, 0, sizeof(*c));
}

static void cache_init_once(void)
{
	cache_key_ok = pthread_key_create(&cache_key, cache_destroy) == 0;
	cache_hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

static struct ctx_cache *cache_get(void)
{
	struct ctx_cache *c = &tls_cache;
	size_t i;

	if (c->keys_mem != NULL)
		return c;
	if (pthread_once(&cache_once, cache_init_once) != 0 || !cache_key_ok ||
	    cache_hmac_alg == NULL)
		return NULL;
	c->keys_mem = crypto_secure_alloc(CACHE_SLOTS * CRYPTO_KEY_LEN);
	if (c->keys_mem == NULL)
		return NULL;
	if (pthread_setspecific(cache_key, c) != 0) {
		crypto_secure_free(c->keys_mem);
		c->keys_mem = NULL;
		return NULL;
	}
	for (i = 0; i < CACHE_SLOTS; i++)
		c->slot[i].key = c->keys_mem + i * CRYPTO_KEY_LEN;
	return c;
}

static int slot_fill(struct cache_slot *s, const uint8_t *key, enum slot_kind kind)
{
	OSSL_PARAM params[2];

	slot_clear(s);
	if (kind == SLOT_AEAD) {
		if (crypto_aead_new(&s->aead, key) != 0)
			return -EIO;
	} else {
		s->mac = EVP_MAC_CTX_new(cache_hmac_alg);
		params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0);
		params[1] = OSSL_PARAM_construct_end();
		if (s->mac == NULL || EVP_MAC_init(s->mac, key, CRYPTO_KEY_LEN, params) != 1) {
			slot_clear(s);
			return -EIO;
		}
	}
	s->key_addr = key;
	s->kind = kind;
	memcpy(s->key, key, CRYPTO_KEY_LEN);
	return 0;
}

static struct cache_slot *cache_lookup(const uint8_t *key, enum slot_kind kind)
{
	struct ctx_cache *c = cache_get();
	struct cache_slot *victim = NULL;
	size_t i;

	if (c == NULL)
		return NULL;
	for (i = 0; i < CACHE_SLOTS; i++) {
		struct cache_slot *s = &c->slot[i];

		if (s->kind != kind || s->key_addr != key)
			continue;
		if (crypto_memeq(s->key, key, CRYPTO_KEY_LEN))
			return s;
		victim = s; /* same address, other bytes: rekey this slot */
		break;
	}
	for (i = 0; victim == NULL && i < CACHE_SLOTS; i++) {
		if (c->slot[i].kind == SLOT_EMPTY)
			victim = &c->slot[i];
	}
	if (victim == NULL) {
		victim = &c->slot[c->next_victim];
		c->next_victim = (c->next_victim + 1) % CACHE_SLOTS;
	}
	return slot_fill(victim, key, kind) == 0 ? victim : NULL;
}

struct crypto_aead *crypto_cache_aead(const uint8_t key[CRYPTO_KEY_LEN])
{
	struct cache_slot *s = cache_lookup(key, SLOT_AEAD);

	return s ? s->aead : NULL;
}

int crypto_cache_hmac(const uint8_t key[CRYPTO_KEY_LEN], const uint8_t *a, size_t a_len,
		      const uint8_t *b, size_t b_len, uint8_t out[32])
{
	struct cache_slot *s = cache_lookup(key, SLOT_HMAC);
	size_t outl = 0;

	if (s == NULL)
		return -EIO;
	/* A NULL key re-initialises HMAC with the key already set. */
	if (EVP_MAC_init(s->mac, NULL, 0, NULL) != 1 ||
	    (a_len > 0 && EVP_MAC_update(s->mac, a, a_len) != 1) ||
	    (b_len > 0 && EVP_MAC_update(s->mac, b, b_len) != 1) ||
	    EVP_MAC_final(s->mac, out, &outl, 32) != 1 || outl != 32)
		return -EIO;
	return 0;
}
