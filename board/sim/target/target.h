/* webkvm-target — the virtual target as its own process, on the far side of
 * real drivers: its screen goes out through a V4L2 output device (vivid's
 * HDMI output on the QEMU board) and its USB host side is /dev/hidrawN.
 * Private to board/sim/target/. */
#ifndef WEBKVM_TARGET_H
#define WEBKVM_TARGET_H

#include <stdbool.h>
#include <stdint.h>

#include "capture/capture.h"
#include "common/clock.h"
#include "common/log.h"

/* vivid's private controls (drivers/media/test-drivers/vivid). */
#define VIVID_CID_OSD_TEXT_MODE		0x00f0f001
#define VIVID_CID_LOOP_VIDEO		0x00f0f025
#define VIVID_CID_SIGNAL_MODE		0x00f0f03e
#define VIVID_CID_DV_TIMINGS		0x00f0f03f
#define VIVID_OSD_NONE			2
#define VIVID_SIGNAL_SELECTED		4

struct vout;

/* Opens the output node; the capture node (may be NULL) is only used for
 * vivid's controls, which live on the capture side.  NULL on failure,
 * logged unless quiet (a retry of a failure already logged). */
struct vout *vout_open(const char *out_path, const char *cap_path, enum cap_pixfmt fmt, bool quiet);
void vout_close(struct vout *v);
int vout_fd(const struct vout *v);
/* Makes the output w×h: DV timings on output and (vivid) on the capture's
 * DV Timings control, format, buffers, STREAMON.  0 or -errno (logged). */
int vout_configure(struct vout *v, int w, int h);
void vout_size(const struct vout *v, int *w, int *h);
/* Puts one XRGB32 frame out when a buffer is free.  1 queued, 0 no free
 * buffer, -errno on a device error (ENODEV: the device went away). */
int vout_put(struct vout *v, const struct cap_frame *f);
/* 1 when a buffer is free for the next frame, 0 when not, -errno. */
int vout_ready(struct vout *v);

/* Sets / reads a control on a device node.  0 or -errno. */
int vctl_set(const char *path, uint32_t id, int32_t value);
int vctl_get(const char *path, uint32_t id, int32_t *value);

/* Every line of the target reads "target: ...". */
#define target_log(level, ...) wk_log("target", (level), __VA_ARGS__)

#endif
