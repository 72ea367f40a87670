/* hid/ — the USB HID gadget transport (Linux configfs + /dev/hidgN).
 *
 * Makes the board a USB device with a keyboard function (boot keyboard, LED
 * output report), an absolute pointer function and a relative boot mouse
 * function, or fewer as the profile says (hid.h), binds it
 * to a UDC and carries hid/'s reports to the USB host without ever
 * blocking: a report the host has not fetched yet is queued (order kept,
 * consecutive pointer moves with the same buttons collapsed) and written
 * when the hidg node polls writable.  The host going away (cable pulled,
 * UDC unbound) and coming back is survived; on its return the keyboard and
 * pointer are released (empty reports) and on_host() is called so hid/'s
 * own state can be released too.
 *
 * Wiring in a daemon loop:
 *   hid_gadget_open(&opt, &g)            before hid_new()
 *   struct hid_transport tr = hid_gadget_transport(g);
 *   n += hid_gadget_pollfds(g, pfd + n, max - n);   each loop turn
 *   hid_gadget_process(g);                          after poll()
 *   hid_gadget_close(g)                  unbinds and removes the gadget
 *
 * Thread: one thread at a time (the daemon's event loop).
 */
#ifndef WEBKVM_HID_GADGET_H
#define WEBKVM_HID_GADGET_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hid/hid.h"

struct hid_gadget_options {
	const char *name;	/* configfs gadget directory name ["webkvm"] */
	const char *udc;	/* UDC to bind, e.g. "dummy_udc.0" [first in /sys/class/udc] */
	const char *serial;	/* serial number string ["0001"] */
	const char *configfs;	/* usb_gadget directory [/sys/kernel/config/usb_gadget] */
	enum hid_profile profile;	/* interfaces offered [HID_PROFILE_FULL] */
	/* LED output report read from the keyboard function: give it to
	 * hid_led_report(). */
	void (*on_led)(void *ctx, const uint8_t *report, size_t len);
	/* The USB host came (true) or went (false).  On true, call
	 * hid_release(h, -1): the host has forgotten every pressed key. */
	void (*on_host)(void *ctx, bool present);
	void *ctx;
};

struct hid_gadget;

/* Creates the gadget in configfs (replacing a stale one of the same name),
 * binds it and opens its hidg nodes.  Returns 0, or HID_EIO / HID_ENOMEM /
 * HID_EINVAL with the reason logged ("hid: gadget: ..."). */
int hid_gadget_open(const struct hid_gadget_options *opt, struct hid_gadget **out);
/* Unbinds the UDC and removes the gadget from configfs. */
void hid_gadget_close(struct hid_gadget *g);

/* Rebuilds the gadget with another profile's interfaces and binds it
 * again: the host sees an unplug and a new device (on_host false, later
 * true).  0, HID_EINVAL, or HID_EIO with the reason logged (the gadget is
 * then retried each tick). */
int hid_gadget_set_profile(struct hid_gadget *g, enum hid_profile profile);

/* The transport for hid_new(): send() queues and returns 0, or -ESHUTDOWN
 * while no USB host is there (the report is dropped: a host that comes
 * back starts from "nothing pressed"), -EINVAL for a bad report.  While no
 * host is known, send() first asks f_hid whether one has just configured
 * the device; if so the report goes to it, and on_host(true) follows from
 * the next hid_gadget_process(), never from inside send(). */
struct hid_transport hid_gadget_transport(struct hid_gadget *g);

/* Adds the gadget's descriptors to a poll set; returns how many (<= max). */
int hid_gadget_pollfds(struct hid_gadget *g, struct pollfd *pfd, int max);
/* Non-blocking: reads LED reports, writes queued reports, follows the
 * host's presence.  Call after each poll(). */
void hid_gadget_process(struct hid_gadget *g);

/* True while a USB host has configured the device.  While none is known,
 * f_hid is asked first (as send() does: a host found gets an empty
 * keyboard report, and on_host(true) from the next hid_gadget_process()). */
bool hid_gadget_host_present(struct hid_gadget *g);
/* Reports waiting for the host on one interface. */
int hid_gadget_queued(const struct hid_gadget *g, enum hid_iface iface);

#endif
