/* boothost — a USB host that talks to the webkvm gadget as PC firmware does,
 * for the QEMU board's tests.
 *
 * A BIOS has no HID report parser: it finds the interfaces of subclass 1
 * (boot), sends SET_PROTOCOL(boot) and reads the interrupt IN endpoint,
 * expecting the fixed boot layouts (8-byte keyboard report, 3-byte mouse
 * report).  This does the same through libusb after taking the interfaces
 * from the kernel's usbhid, and prints each report as a line.
 *
 *   boothost --list                 the device's interfaces, then exit
 *   boothost [--seconds N] [--hold] read (or with --hold: claim and never
 *                                   read, a host that stopped polling)
 *
 * Output lines (stdout, flushed each):
 *   iface N class C subclass S protocol P ep 0xEE max M
 *   boot N protocol 0            after SET_PROTOCOL, as GET_PROTOCOL reads it
 *   reading                      every interface is set up
 *   kbd XX XX XX XX XX XX XX XX  a keyboard report (its first 8 bytes)
 *   mouse L XX XX XX             a mouse report of L bytes (the boot part)
 *   done
 * The kernel driver is given its interfaces back at the end. */
#include <errno.h>
#include <getopt.h>
#include <libusb-1.0/libusb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define VID 0x1d6b
#define PID 0x0104
#define MAX_IFACES 8

#define HID_SET_PROTOCOL 0x0b
#define HID_GET_PROTOCOL 0x03
#define HID_PROTOCOL_BOOT 0

struct boot_if {
	int number, protocol;	/* 1 keyboard, 2 mouse */
	unsigned char ep;
	int max;
	bool detached, claimed;
	struct libusb_transfer *xfer;
	unsigned char buf[64];
};

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void LIBUSB_CALL
on_report(struct libusb_transfer *t)
{
	struct boot_if *b = t->user_data;

	if (t->status == LIBUSB_TRANSFER_COMPLETED) {
		const unsigned char *r = t->buffer;

		if (b->protocol == 1 && t->actual_length >= 8)
			printf("kbd %02x %02x %02x %02x %02x %02x %02x %02x\n",
			       r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
		else if (b->protocol == 2 && t->actual_length >= 3)
			printf("mouse %d %02x %02x %02x\n", t->actual_length, r[0], r[1], r[2]);
		else
			printf("short %d bytes on interface %d\n", t->actual_length, b->number);
		fflush(stdout);
	} else if (t->status != LIBUSB_TRANSFER_TIMED_OUT && t->status != LIBUSB_TRANSFER_CANCELLED) {
		fprintf(stderr, "boothost: interface %d: transfer status %d\n", b->number, t->status);
		stop = 1;
	}
	if (t->status == LIBUSB_TRANSFER_CANCELLED || stop) {
		b->xfer = NULL;
		libusb_free_transfer(t);
		return;
	}
	if (libusb_submit_transfer(t) < 0) {
		b->xfer = NULL;
		libusb_free_transfer(t);
		stop = 1;
	}
}

/* Lists the interfaces; fills the boot ones into b[].  Returns how many. */
static int
scan(libusb_device *dev, struct boot_if *b, bool print)
{
	struct libusb_config_descriptor *cfg;
	int n = 0, rc;

	if ((rc = libusb_get_active_config_descriptor(dev, &cfg)) < 0) {
		fprintf(stderr, "boothost: config descriptor: %s\n", libusb_strerror(rc));
		return -1;
	}
	for (int i = 0; i < cfg->bNumInterfaces; i++) {
		const struct libusb_interface_descriptor *d = &cfg->interface[i].altsetting[0];
		unsigned char ep = 0;
		int max = 0;

		for (int e = 0; e < d->bNumEndpoints; e++) {
			const struct libusb_endpoint_descriptor *ed = &d->endpoint[e];

			if ((ed->bEndpointAddress & LIBUSB_ENDPOINT_IN) &&
			    (ed->bmAttributes & 3) == LIBUSB_TRANSFER_TYPE_INTERRUPT) {
				ep = ed->bEndpointAddress;
				max = ed->wMaxPacketSize;
			}
		}
		if (print)
			printf("iface %d class %d subclass %d protocol %d ep 0x%02x max %d\n",
			       d->bInterfaceNumber, d->bInterfaceClass, d->bInterfaceSubClass,
			       d->bInterfaceProtocol, ep, max);
		if (d->bInterfaceClass == LIBUSB_CLASS_HID && d->bInterfaceSubClass == 1 &&
		    (d->bInterfaceProtocol == 1 || d->bInterfaceProtocol == 2) && ep != 0 && n < MAX_IFACES)
			b[n++] = (struct boot_if){ .number = d->bInterfaceNumber,
						   .protocol = d->bInterfaceProtocol, .ep = ep, .max = max };
	}
	libusb_free_config_descriptor(cfg);
	fflush(stdout);
	return n;
}

/* Takes the interface from usbhid and switches it to the boot protocol. */
static int
setup(libusb_device_handle *h, struct boot_if *b)
{
	unsigned char proto = 0xff;
	int rc;

	if (libusb_kernel_driver_active(h, b->number) == 1) {
		if ((rc = libusb_detach_kernel_driver(h, b->number)) < 0) {
			fprintf(stderr, "boothost: detach interface %d: %s\n", b->number, libusb_strerror(rc));
			return -1;
		}
		b->detached = true;
	}
	if ((rc = libusb_claim_interface(h, b->number)) < 0) {
		fprintf(stderr, "boothost: claim interface %d: %s\n", b->number, libusb_strerror(rc));
		return -1;
	}
	b->claimed = true;
	rc = libusb_control_transfer(h, LIBUSB_ENDPOINT_OUT | LIBUSB_REQUEST_TYPE_CLASS |
				     LIBUSB_RECIPIENT_INTERFACE, HID_SET_PROTOCOL, HID_PROTOCOL_BOOT,
				     (uint16_t)b->number, NULL, 0, 1000);
	if (rc < 0) {
		fprintf(stderr, "boothost: SET_PROTOCOL(boot) on interface %d: %s\n", b->number,
			libusb_strerror(rc));
		return -1;
	}
	rc = libusb_control_transfer(h, LIBUSB_ENDPOINT_IN | LIBUSB_REQUEST_TYPE_CLASS |
				     LIBUSB_RECIPIENT_INTERFACE, HID_GET_PROTOCOL, 0,
				     (uint16_t)b->number, &proto, 1, 1000);
	if (rc != 1) {
		fprintf(stderr, "boothost: GET_PROTOCOL on interface %d: %s\n", b->number,
			rc < 0 ? libusb_strerror(rc) : "no data");
		return -1;
	}
	printf("boot %d protocol %d\n", b->number, proto);
	fflush(stdout);
	return 0;
}

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: boothost --list | boothost [--seconds N] [--hold]\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "list", no_argument, NULL, 'l' },
		{ "seconds", required_argument, NULL, 's' },
		{ "hold", no_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct boot_if b[MAX_IFACES];
	libusb_context *ctx = NULL;
	libusb_device_handle *h = NULL;
	bool list = false, hold = false;
	double seconds = 10, end;
	int c, n = 0, rc, ret = 1;
	char *e;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'l': list = true; break;
		case 'H': hold = true; break;
		case 's':
			errno = 0;
			seconds = strtod(optarg, &e);
			if (errno || e == optarg || *e || seconds <= 0 || seconds > 3600) {
				fprintf(stderr, "boothost: --seconds: \"%s\" is not 0..3600\n", optarg);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if ((rc = libusb_init(&ctx)) < 0) {
		fprintf(stderr, "boothost: libusb_init: %s\n", libusb_strerror(rc));
		return 1;
	}
	if ((h = libusb_open_device_with_vid_pid(ctx, VID, PID)) == NULL) {
		fprintf(stderr, "boothost: no device %04x:%04x (or no permission)\n", VID, PID);
		goto out;
	}
	if ((n = scan(libusb_get_device(h), b, true)) < 0)
		goto out;
	if (list) {
		ret = 0;
		goto out;
	}
	if (n == 0) {
		fprintf(stderr, "boothost: the device has no boot interface\n");
		goto out;
	}
	for (int i = 0; i < n; i++)
		if (setup(h, &b[i]) < 0)
			goto out;
	for (int i = 0; i < n && !hold; i++) {
		if ((b[i].xfer = libusb_alloc_transfer(0)) == NULL) {
			fprintf(stderr, "boothost: out of memory\n");
			goto out;
		}
		/* The firmware reads what the endpoint gives, up to its size. */
		libusb_fill_interrupt_transfer(b[i].xfer, h, b[i].ep, b[i].buf,
					       b[i].max > 0 && b[i].max <= (int)sizeof(b[i].buf) ? b[i].max : (int)sizeof(b[i].buf),
					       on_report, &b[i], 0);
		if ((rc = libusb_submit_transfer(b[i].xfer)) < 0) {
			fprintf(stderr, "boothost: interface %d: submit: %s\n", b[i].number, libusb_strerror(rc));
			libusb_free_transfer(b[i].xfer);
			b[i].xfer = NULL;
			goto out;
		}
	}
	printf("reading\n");
	fflush(stdout);
	end = now_s() + seconds;
	while (!stop && now_s() < end) {
		struct timeval tv = { .tv_sec = 0, .tv_usec = 100000 };

		if ((rc = libusb_handle_events_timeout_completed(ctx, &tv, NULL)) < 0 && rc != LIBUSB_ERROR_INTERRUPTED) {
			fprintf(stderr, "boothost: events: %s\n", libusb_strerror(rc));
			break;
		}
	}
	ret = stop ? 1 : 0;
out:
	for (int i = 0; h != NULL && i < MAX_IFACES && i < n; i++) {
		if (b[i].xfer != NULL) {
			struct timeval tv = { .tv_sec = 1, .tv_usec = 0 };

			libusb_cancel_transfer(b[i].xfer);
			while (b[i].xfer != NULL &&
			       libusb_handle_events_timeout_completed(ctx, &tv, NULL) == 0)
				;
		}
		if (b[i].claimed)
			libusb_release_interface(h, b[i].number);
		if (b[i].detached)
			libusb_attach_kernel_driver(h, b[i].number);
	}
	if (h != NULL)
		libusb_close(h);
	libusb_exit(ctx);
	printf("done\n");
	return ret;
}
