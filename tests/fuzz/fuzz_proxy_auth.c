/* The proxy's login parsers (proxy/auth.c), chosen by the first byte:
 *   0 one users file line          1 a whole users file (first line: the
 *                                     user looked up)
 *   2 login body (JSON)            3 Cookie header: name NUL header
 *   4 Origin check: origin NUL host NUL allow... (byte 1 bit 0: TLS)
 *   5 session table and 6 login rate limit driven by 8-byte records
 * Password checks (argon2id) are left out: each costs tens of ms and its
 * parameters come from the admin's users file. */
#include "tests/fuzz/fuzz_common.h"
#include "proxy/proxy.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static int
split(char *s, size_t n, const char **out, int max)
{
	int k = 0;
	size_t i = 0;

	while (k < max && i <= n) {
		out[k++] = s + i;
		i += strlen(s + i) + 1;
	}
	return k;
}

static void
sessions(const uint8_t *d, size_t n)
{
	static struct proxy_sessions t;
	char ids[4][PROXY_SESSION_ID_LEN + 1];
	long long now = 1000;

	memset(&t, 0, sizeof(t));
	memset(ids, 0, sizeof(ids));
	t.idle = 1 + (n > 0 ? d[0] : 0);
	t.max = 1 + (n > 1 ? d[1] * 4 : 0);
	for (size_t i = 2; i + 3 <= n; i += 3) {
		int slot = d[i + 1] & 3;
		const struct proxy_session *s;

		now += d[i + 2];
		switch (d[i] % 4) {
		case 0:
			FUZZ_CHECK(proxy_session_new(&t, "user", now, ids[slot]) == 0);
			FUZZ_CHECK(strlen(ids[slot]) == PROXY_SESSION_ID_LEN);
			FUZZ_CHECK(proxy_session_get(&t, ids[slot], now) != NULL);
			break;
		case 1:
			if ((s = proxy_session_get(&t, ids[slot], now)) != NULL) {
				FUZZ_CHECK(strcmp(s->id, ids[slot]) == 0);
				FUZZ_CHECK(now - s->created <= t.max);
			}
			break;
		case 2:
			(void)proxy_session_end(&t, ids[slot]);
			if (ids[slot][0] != '\0')
				FUZZ_CHECK(proxy_session_get(&t, ids[slot], now) == NULL);
			break;
		default:
			/* Ids that were never given out, the empty one included. */
			FUZZ_CHECK(proxy_session_get(&t, "", now) == NULL);
			FUZZ_CHECK(proxy_session_get(&t, (const char *)"0123", now) == NULL);
			break;
		}
	}
}

static void
ratelimit(const uint8_t *d, size_t n)
{
	static struct proxy_ratelimit rl;
	long long now = 1000;
	char addr[8];

	memset(&rl, 0, sizeof(rl));
	for (size_t i = 0; i + 2 <= n; i += 2) {
		int w, delay;

		snprintf(addr, sizeof(addr), "a%d", d[i] & 0x3f);
		now += d[i + 1] & 0x1f;
		w = proxy_rate_wait(&rl, addr, now);
		FUZZ_CHECK(w >= 0 && w <= PROXY_RATE_DELAY_CAP);
		if (d[i] & 0x80) {
			proxy_rate_ok(&rl, addr);
			FUZZ_CHECK(proxy_rate_wait(&rl, addr, now) == 0);
		} else if (d[i] & 0x40) {
			delay = proxy_rate_fail(&rl, addr, now);
			FUZZ_CHECK(delay >= 0 && delay <= PROXY_RATE_DELAY_CAP);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[PROXY_USER_MAX], hash[PROXY_HASH_MAX], err[256];
	char user[PROXY_USER_MAX], pass[PROXY_PASSWORD_MAX];
	const char *why, *p[8];
	char *s;
	int rc;

	if (size < 1)
		return 0;
	s = fuzz_strndup(data + 1, size - 1);
	switch (data[0] % 7) {
	case 0:
		why = NULL;
		rc = proxy_users_parse_line(s, name, sizeof(name), hash, sizeof(hash), &why);
		FUZZ_CHECK(rc == 1 || rc == 0 || rc == -EINVAL);
		if (rc == 1)
			FUZZ_CHECK(proxy_user_name_ok(name) && strlen(hash) < sizeof(hash));
		if (rc == -EINVAL)
			FUZZ_CHECK(why != NULL);
		break;
	case 1: {
		char *nl = memchr(s, '\n', size - 1);
		int nusers = -1;

		if (nl == NULL)
			break;
		*nl = '\0';
		rc = proxy_users_find_buf(nl + 1, size - 1 - (size_t)(nl + 1 - s), s, hash,
					  sizeof(hash), &nusers);
		FUZZ_CHECK((rc == 0 || rc == 1) && nusers >= 0);
		if (rc == 1)
			FUZZ_CHECK(nusers >= 1 && strlen(hash) < sizeof(hash));
		break;
	}
	case 2: {
		/* Not NUL-terminated: the parser gets a length. */
		uint8_t *b = malloc(size);

		memcpy(b, data + 1, size - 1);
		err[0] = '\0';
		rc = proxy_login_parse((const char *)b, size - 1, user, sizeof(user), pass,
				       sizeof(pass), err, sizeof(err));
		FUZZ_CHECK(rc == 0 || (rc == -EINVAL && err[0] != '\0'));
		if (rc == 0)
			FUZZ_CHECK(strlen(user) < sizeof(user) && strlen(pass) < sizeof(pass));
		free(b);
		break;
	}
	case 3: {
		char out[PROXY_SESSION_ID_LEN + 1];

		split(s, size - 1, p, 2);
		if (p[0] + strlen(p[0]) >= s + size - 1)
			break;
		rc = proxy_cookie_value(p[1], p[0], out, sizeof(out));
		FUZZ_CHECK(rc == 0 || rc == 1 || rc == -ENAMETOOLONG);
		if (rc == 1)
			FUZZ_CHECK(strlen(out) < sizeof(out));
		break;
	}
	case 4: {
		int k = split(s, size - 1, p, 8);

		if (k < 2)
			break;
		(void)proxy_origin_ok(p[0], p[1], size > 1 && (data[1] & 1), p + 2, k - 2);
		break;
	}
	case 5:
		sessions(data + 1, size - 1);
		break;
	default:
		ratelimit(data + 1, size - 1);
		break;
	}
	free(s);
	return 0;
}
