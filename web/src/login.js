// webkvm login page: POST api/login, then back to the console.  The
// session cookie is HttpOnly, so this script never sees it.

const $ = (id) => document.getElementById(id);
const query = location.search;	// keep ?token= etc. for the console
let waitTimer = null;

function showError(text) {
	$("login-error").textContent = text;
	$("login-error").hidden = !text;
}

// Counts a rate-limit delay down, with the button off until it ends.
function blockFor(secs) {
	clearInterval(waitTimer);
	let left = secs;
	const tick = () => {
		if (left <= 0) {
			clearInterval(waitTimer);
			$("login-submit").disabled = false;
			showError("Too many failed logins. You may try again now.");
			return;
		}
		$("login-submit").disabled = true;
		showError(`Too many failed logins. Try again in ${left} s.`);
		left--;
	};
	tick();
	waitTimer = setInterval(tick, 1000);
}

async function submit(ev) {
	ev.preventDefault();
	showError("");
	$("login-submit").disabled = true;
	let res, json = null;
	try {
		res = await fetch("api/login", {
			method: "POST",
			cache: "no-store",
			headers: { "Content-Type": "application/json" },
			body: JSON.stringify({ user: $("login-user").value, password: $("login-password").value }),
		});
		json = await res.json().catch(() => null);
	} catch (err) {
		$("login-submit").disabled = false;
		showError(`Cannot reach the server: ${err.message}`);
		return;
	}
	if (res.ok) {
		location.replace("./" + query);
		return;
	}
	$("login-submit").disabled = false;
	$("login-password").value = "";
	if (res.status === 429) {
		blockFor(Number(res.headers.get("Retry-After")) || (json && json.retry_after) || 1);
		return;
	}
	if (res.status === 401)
		showError("Wrong user name or password.");
	else
		showError(json && json.error ? json.error : `The server answered HTTP ${res.status}.`);
	$("login-password").focus();
}

// Already logged in (a bookmarked login page) or no users at all: say so
// before anyone types.
async function check() {
	try {
		const res = await fetch("api/session", { cache: "no-store" });
		const json = await res.json().catch(() => null);
		if (res.ok) {
			location.replace("./" + query);
			return;
		}
		if (json && json.error && json.error.startsWith("no users"))
			showError(json.error);
	} catch {
		// The form still works; submit reports what is wrong.
	}
}

$("login-form").addEventListener("submit", submit);
$("login-user").focus();
check();
