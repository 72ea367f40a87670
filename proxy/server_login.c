/* /api/login: the password check on a worker thread.
 *
 * argon2id takes ~0.2 s and 64 MiB; run on the event loop it would stall
 * every viewer for that long per login attempt.  One worker checks one
 * password at a time; the loop keeps everything else (queue, rate limit,
 * sessions), so the only thing shared with the worker is the job being
 * checked.  One at a time keeps the rate limit exact: the next login is
 * let through or refused only after the previous one's result counted, as
 * when the check ran on the loop, and memory stays at one argon2 run.  At
 * most LOGIN_QUEUE_MAX logins wait behind it; more are refused with 503. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/server_int.h"

static void
login_job_free(struct login_job *j)
{
	if (j->body != NULL) {
		explicit_bzero(j->body, j->body_len);
		free(j->body);
	}
	explicit_bzero(&j->l, sizeof(j->l));
	free(j);
}

static void *
verifier_main(void *arg)
{
	struct server *srv = arg;
	struct verifier *v = &srv->verifier;

	pthread_mutex_lock(&v->lock);
	for (;;) {
		struct login_job *j;
		int rc;

		while (!v->stop && (v->job == NULL || v->job_done))
			pthread_cond_wait(&v->wake, &v->lock);
		if (v->stop)
			break;
		j = v->job;
		pthread_mutex_unlock(&v->lock);
		rc = proxy_password_verify(j->l.hash, j->l.password);
		pthread_mutex_lock(&v->lock);
		j->rc = rc;
		v->job_done = true;
		/* Wakes lws_service: LWS_CALLBACK_EVENT_WAIT_CANCELLED on the
		 * loop collects the result. */
		lws_cancel_service(srv->ctx);
	}
	pthread_mutex_unlock(&v->lock);
	return NULL;
}

void
proxy__verifier_init(struct server *srv)
{
	pthread_mutex_init(&srv->verifier.lock, NULL);
	pthread_cond_init(&srv->verifier.wake, NULL);
}

int
proxy__verifier_start(struct server *srv)
{
	struct verifier *v = &srv->verifier;
	sigset_t all, old;
	int rc;

	/* Signals go to the loop thread, which handles SIGINT/SIGTERM. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&v->thread, NULL, verifier_main, srv);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		proxy_log(WK_LOG_ERROR, "login: cannot start the password check thread: %s", strerror(rc));
		return -rc;
	}
	v->started = true;
	return 0;
}

void
proxy__verifier_stop(struct server *srv)
{
	struct verifier *v = &srv->verifier;

	if (!v->started)
		return;
	pthread_mutex_lock(&v->lock);
	v->stop = true;
	pthread_cond_signal(&v->wake);
	pthread_mutex_unlock(&v->lock);
	pthread_join(v->thread, NULL);
	v->started = false;
}

void
proxy__verifier_free(struct server *srv)
{
	struct verifier *v = &srv->verifier;

	if (v->job != NULL)
		login_job_free(v->job);
	v->job = NULL;
	if (v->head != NULL || v->queued != 0)
		proxy_log(WK_LOG_ERROR, "internal: %d login(s) left queued at exit", v->queued);
	pthread_mutex_destroy(&v->lock);
	pthread_cond_destroy(&v->wake);
}

static void
login_answered(struct login_job *j)
{
	if (j->d.log[0] != '\0')
		proxy_log(WK_LOG_INFO, "%s", j->d.log);
	j->answered = true;
	if (j->wsi != NULL)
		lws_callback_on_writable(j->wsi);
	else
		login_job_free(j);
}

void
proxy__login_pump(struct server *srv)
{
	struct verifier *v = &srv->verifier;
	struct proxy_http_ctx c;
	struct login_job *j = NULL;
	bool busy;

	pthread_mutex_lock(&v->lock);
	if (v->job != NULL && v->job_done) {
		j = v->job;
		v->job = NULL;
		v->job_done = false;
	}
	busy = v->job != NULL;
	pthread_mutex_unlock(&v->lock);
	if (j != NULL) {
		proxy__http_ctx(srv, &c);
		/* Counted even when the client has gone: hanging up must not
		 * dodge the rate limit. */
		proxy_login_end(&c, &j->l, j->rc, &j->d);
		login_answered(j);
	}
	while (!busy && (j = v->head) != NULL) {
		int need;

		v->head = j->next;
		if (v->head == NULL)
			v->tail = NULL;
		v->queued--;
		j->next = NULL;
		proxy__http_ctx(srv, &c);
		need = proxy_login_begin(&c, &j->l, j->body, j->body_len, &j->d);
		if (j->body != NULL) {
			explicit_bzero(j->body, j->body_len);
			free(j->body);
			j->body = NULL;
		}
		if (need == 0) {
			login_answered(j);
			continue;
		}
		if (!v->started) {
			proxy_login_end(&c, &j->l, -ENOSYS, &j->d);
			login_answered(j);
			continue;
		}
		pthread_mutex_lock(&v->lock);
		v->job = j;
		v->job_done = false;
		pthread_cond_signal(&v->wake);
		pthread_mutex_unlock(&v->lock);
		busy = true;
	}
}

int
proxy__login_submit(struct server *srv, struct lws *wsi, struct pss *pss, char *body, size_t len)
{
	struct verifier *v = &srv->verifier;
	struct login_job *j;

	if (v->queued >= LOGIN_QUEUE_MAX || (j = calloc(1, sizeof(*j))) == NULL) {
		if (body != NULL) {
			explicit_bzero(body, len);
			free(body);
		}
		proxy_log(WK_LOG_WARN, "login: %d logins already waiting for a password check; refused",
			  v->queued);
		return proxy__json_error(srv, wsi, 503, "too many logins in progress; try again");
	}
	j->wsi = wsi;
	j->body = body;
	j->body_len = len;
	proxy__peer_ip(wsi, j->l.ip, sizeof(j->l.ip));
	j->l.tls = lws_is_ssl(wsi) != 0;
	if (v->tail != NULL)
		v->tail->next = j;
	else
		v->head = j;
	v->tail = j;
	v->queued++;
	pss->login = j;
	proxy__login_pump(srv);
	return 0;
}

int
proxy__login_writeable(struct server *srv, struct lws *wsi, struct pss *pss)
{
	struct login_job *j = pss->login;
	int rc;

	if (j == NULL || !j->answered)
		return 1;
	pss->login = NULL;
	rc = proxy__http_answer(srv, wsi, &j->d.answer);
	login_job_free(j);
	return rc;
}

/* Its job is dropped, or, when the worker has it, left for the pump to
 * count and free. */
void
proxy__login_forget(struct server *srv, struct login_job *j)
{
	struct verifier *v = &srv->verifier;
	bool checking;

	pthread_mutex_lock(&v->lock);
	checking = v->job == j;
	pthread_mutex_unlock(&v->lock);
	j->wsi = NULL;
	if (checking)
		return;
	if (!j->answered) {
		struct login_job **pp = &v->head, *prev = NULL;

		while (*pp != NULL && *pp != j) {
			prev = *pp;
			pp = &(*pp)->next;
		}
		if (*pp == j) {
			*pp = j->next;
			if (v->tail == j)
				v->tail = prev;
			v->queued--;
		}
	}
	login_job_free(j);
}
