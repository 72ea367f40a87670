/* firmware/ — the daemon's state, shared by the files that make it up:
 * daemon.c (setup, hid/ wiring, the frame loop), input.c (viewers' input),
 * paste.c (text typed as keystrokes) and ctl.c (control requests).  All of
 * it runs on the one event-loop thread. */
#ifndef WEBKVM_FW_DAEMON_INT_H
#define WEBKVM_FW_DAEMON_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "capture/capture.h"
#include "firmware/daemon.h"
#include "hid/hid.h"
#include "rfb/rfb_server.h"

/* hid/ viewer id of requests from the control socket: apart from every RFB
 * viewer (0..63), so typing never releases a viewer's keys or vice versa. */
#define FW_VIEWER_CONTROL 1000

struct fw_daemon {
	struct fw_config cfg;
	struct board *board;
	struct sim_target *sim;		/* the board's in-process target, or NULL */
	struct cap_source *cap;
	struct hid_dev *hid;
	struct hid_gadget *gadget;	/* USB gadget transport (qemu-x86_64) */
	struct rfb_server *rfb;
	struct fw_control *ctl;
	int sigfd;

	int led_pending;		/* LED output report from the target, -1 none */
	enum cap_state state;		/* as last seen */
	uint64_t nosignal_since_us;
	uint64_t nosignal_drawn_us;
	uint8_t *nosignal;		/* frame for the no-signal screen */
	size_t nosignal_size;
	const uint8_t *shown;		/* buffer of the last stable frame given to rfb/ */

	uint64_t last_change_us;	/* a frame last had changed tiles */
	uint64_t last_input_us;		/* a key, pointer or control request */
	unsigned idle_skip;

	/* Text being typed (ctl_type): the plan, the next keysym, whether its
	 * release comes next, and when the next report may go. */
	struct fw_paste_plan paste;
	size_t paste_i;
	bool paste_up;
	uint64_t paste_next_us;
	uint64_t paste_t0_us;
	unsigned paste_delay_us;
	struct fw_held held;		/* viewers' keys while a text is typed */
	bool held_full_told;
	enum hid_profile profile;

	uint64_t fps_t0_us;
	unsigned fps_frames;
	double fps;			/* frames per second over the last second */
	uint64_t frames;
	uint64_t diffed;		/* of them, given to the tile diff (the rest the idle skip passed over) */
};

/* ---- daemon.c ---- */
/* Hands the LED report the target sent meanwhile to hid/. */
void fw__flush_leds(struct fw_daemon *d);

/* ---- input.c ---- */
/* The rfb/ input sink: keys and pointer of the viewers into hid/. */
void fw__input_sink(struct fw_daemon *d, struct rfb_input *in);
/* Applies one key event (a viewer's, or one held back during a paste). */
int fw__apply_key(struct fw_daemon *d, const struct fw_held_key *k);

/* ---- paste.c: the typing engine ---- */
bool fw__pasting(const struct fw_daemon *d);
/* Characters of the text being typed not yet typed; 0 when none is. */
size_t fw__paste_left(const struct fw_daemon *d);
/* Starts typing plan (which the daemon then owns) delay_ms apart. */
void fw__paste_start(struct fw_daemon *d, struct fw_paste_plan *plan, unsigned delay_ms);
/* Ends it (done or cancelled, why says which), lets go of its key and
 * types what the viewers pressed meanwhile.  No-op when none runs. */
void fw__paste_end(struct fw_daemon *d, const char *why);
/* Milliseconds until the next step may go, for poll(); -1 when none. */
int fw__paste_wait_ms(const struct fw_daemon *d, uint64_t now);
/* Types what is due now; never waits. */
void fw__paste_step(struct fw_daemon *d);

/* ---- ctl.c ---- */
const char *fw__mode_name(enum hid_pointer_mode m);
/* The pointer mode a profile leaves: the one asked for when it has it. */
enum hid_pointer_mode fw__mode_for(enum hid_profile p, enum hid_pointer_mode want);

#endif
