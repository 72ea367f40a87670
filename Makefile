# webkvm — one non-recursive Makefile.  Objects and binaries go to build/.
#   make            build everything        make V=1     show commands
#   make SAN=1      ASan+UBSan build (in build/san/)
#   make ARCH=arm64 cross-build for arm64 boards (in build/arm64/), with
#                   Debian's aarch64-linux-gnu toolchain and arm64 -dev
#                   packages (multiarch; scripts/install-deps.sh)
#   make run        install deps, build, start the product on the sim board
#   make test       install deps, build, run every test
#   make clean

CC       ?= cc
V        ?= 0
SAN      ?= 0
O        ?= 2

ARCH     ?=
PKG_CONFIG := pkg-config

ifeq ($(SAN),1)
BUILD    := build/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD    := build
SANFLAGS :=
endif

ifeq ($(ARCH),arm64)
ifeq ($(SAN),1)
$(error ARCH=arm64 has no SAN=1 build: its unit tests run under qemu-user, where ASan does not)
endif
BUILD    := build/arm64
CC       := aarch64-linux-gnu-gcc
PKG_CONFIG := PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig pkg-config
# libwebsockets-dev and libvncserver-dev cannot be installed for two
# architectures at once (their config headers differ): the arm64 packages
# are unpacked under build/ for their headers, and their libraries (the
# runtime packages, which are multiarch) are linked by name.
DEB_ROOT := $(BUILD)/deb
DEB_HDRS := $(DEB_ROOT)/usr/include/lws_config.h $(DEB_ROOT)/usr/include/rfb/rfbconfig.h
CPPFLAGS += -I$(DEB_ROOT)/usr/include
LWS_LIBS := /usr/lib/aarch64-linux-gnu/libwebsockets.so.17
VNC_LIBS := /usr/lib/aarch64-linux-gnu/libvncserver.so.1
else ifneq ($(ARCH),)
$(error ARCH=$(ARCH): only arm64 is known (or nothing, for this machine))
else
LWS_LIBS = $(shell pkg-config --libs libwebsockets 2>/dev/null)
VNC_PKG  := libvncserver
DEB_HDRS :=
endif

# libturbojpeg before libvncserver: the latter exports an old copy of some tj*
# functions under the same names.
PKGS     := libturbojpeg libxxhash $(VNC_PKG) jansson x264
CPPFLAGS += -I. -I$(BUILD)/gen -D_GNU_SOURCE
CFLAGS   += -std=c11 -O$(O) -g -Wall -Wextra -Wshadow -Werror -pthread $(SANFLAGS) -MMD -MP \
            $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
LDFLAGS  += -pthread $(SANFLAGS)
LDLIBS   += $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) $(VNC_LIBS) -lyuv -lz -lm

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-6s %s\n' $(1) $(2)
endif

# ---- sources per module ----
COMMON_SRC := $(wildcard common/*.c)
CAP_SRC  := $(wildcard capture/*.c)
HID_SRC  := $(wildcard hid/*.c)
RFB_SRC  := $(wildcard rfb/*.c)
SIM_SRC  := $(wildcard board/sim/*.c)
BOARD_SRC := $(wildcard board/*.c)
FW_SRC   := $(filter-out firmware/main.c,$(wildcard firmware/*.c))
PROXY_SRC := $(filter-out proxy/main.c,$(wildcard proxy/*.c))
GEN_SRC  := $(BUILD)/gen/font_vga16.c

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
COMMON_OBJ := $(call obj,$(COMMON_SRC))
CAP_OBJ  := $(call obj,$(CAP_SRC))
HID_OBJ  := $(call obj,$(HID_SRC))
RFB_OBJ  := $(call obj,$(RFB_SRC))
SIM_OBJ  := $(call obj,$(SIM_SRC)) $(BUILD)/obj/gen/font_vga16.o
BOARD_OBJ := $(call obj,$(BOARD_SRC))
FW_OBJ   := $(call obj,$(FW_SRC))
PROXY_OBJ := $(call obj,$(PROXY_SRC))
# The control protocol's table: the daemon's, and linked alone into the
# proxy, whose REST layer builds its lines from it.
CTLPROTO_OBJ := $(BUILD)/obj/firmware/ctlproto.o
LIB_OBJ  := $(FW_OBJ) $(RFB_OBJ) $(BOARD_OBJ) $(SIM_OBJ) $(HID_OBJ) $(CAP_OBJ) $(COMMON_OBJ)

BINS     := $(BUILD)/webkvmd $(if $(wildcard proxy/main.c),$(BUILD)/webkvm-proxy) \
            $(if $(wildcard board/sim/target/main.c),$(BUILD)/webkvm-target) \
            $(if $(wildcard proxy/passwd/main.c),$(BUILD)/webkvm-passwd)
UNIT     := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
# Test tools the integration tests run on this machine: h264dec decodes
# encoding-50 streams with libavcodec.  Not in the arm64 build.
TOOLS    := $(if $(filter arm64,$(ARCH)),,$(BUILD)/tests/h264dec)

# Keep test objects: they are intermediate files of the pattern rule.
.SECONDARY:

.PHONY: all run test test-unit test-integration test-browser test-hil qemu deps clean bench web fuzz
all: $(BINS) $(UNIT) $(TOOLS)

$(BUILD)/obj/%.o: %.c | $(DEB_HDRS)
	$(call msg,CC,$<)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	$(call msg,CC,$<)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# The virtual target's font, converted at build time from Debian's console
# font (console-setup-linux).
FONT_PSF ?= /usr/share/consolefonts/Uni2-VGA16.psf.gz
$(BUILD)/gen/font_vga16.c: board/sim/psf2c.py $(FONT_PSF)
	$(call msg,GEN,$@)
	@mkdir -p $(@D)
	$(Q)python3 board/sim/psf2c.py $(FONT_PSF) $@

# hid/'s keyboard layouts, converted at build time from Debian's xkb-data
# (symbols, keycodes/evdev) and keysymdef.h (x11proto-dev).
XKB_DIR   ?= /usr/share/X11/xkb
KEYSYMDEF ?= /usr/include/X11/keysymdef.h
$(BUILD)/gen/layouts.c: hid/xkb2c.py
	$(call msg,GEN,$@)
	@mkdir -p $(@D)
	$(Q)python3 hid/xkb2c.py $(XKB_DIR) $(KEYSYMDEF) $@
# hid/layout.c includes the generated tables.
$(BUILD)/obj/hid/layout.o: $(BUILD)/gen/layouts.c

# Where an installed webkvmd finds the board definitions (board/*/board.conf)
# when it does not run from a source tree; see board/board.h.
BOARD_DIR ?= /usr/share/webkvm/board
$(BUILD)/obj/board/board.o: CPPFLAGS += -DBOARD_DIR_INSTALLED='"$(BOARD_DIR)"'

$(BUILD)/webkvmd: $(BUILD)/obj/firmware/main.o $(LIB_OBJ)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Each module's unit test links that module and what it builds on only, so a
# module can be worked on while another does not build.
$(BUILD)/tests/test_common: $(COMMON_OBJ)
$(BUILD)/tests/test_capture: $(CAP_OBJ) $(COMMON_OBJ)
$(BUILD)/tests/test_hid: $(HID_OBJ) $(COMMON_OBJ)
$(BUILD)/tests/test_sim: $(SIM_OBJ) $(HID_OBJ) $(COMMON_OBJ)
$(BUILD)/tests/test_board: $(BOARD_OBJ) $(SIM_OBJ) $(HID_OBJ) $(CAP_OBJ) $(COMMON_OBJ)
$(BUILD)/tests/test_rfb: $(RFB_OBJ) $(CAP_OBJ) $(COMMON_OBJ)
$(BUILD)/tests/test_firmware: $(LIB_OBJ)
$(BUILD)/tests/test_proxy: $(PROXY_OBJ) $(CTLPROTO_OBJ) $(COMMON_OBJ)
$(BUILD)/tests/test_ring: $(BUILD)/obj/proxy/ring.o
$(BUILD)/tests/test_proxy: LDLIBS += $(LWS_LIBS) -largon2
# The virtual target as its own process, on the far side of real HDMI and
# USB drivers (QEMU board).
TARGET_SRC := $(wildcard board/sim/target/*.c)
$(BUILD)/webkvm-target: $(call obj,$(TARGET_SRC)) $(SIM_OBJ) $(HID_OBJ) $(CAP_OBJ) $(COMMON_OBJ)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The BIOS stand-in of the HIL tests: a boot-protocol USB host on libusb,
# run inside the QEMU board.
$(BUILD)/boothost: $(BUILD)/obj/tests/hil/boothost.o
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs libusb-1.0 2>/dev/null)
$(BUILD)/obj/tests/hil/boothost.o: CFLAGS += $(shell pkg-config --cflags libusb-1.0 2>/dev/null)

# Decodes what an encoding-50 viewer recorded (tests/integration/test_h264.py).
AVCODEC_PKGS := libavcodec libavutil
$(BUILD)/tests/h264dec: $(BUILD)/obj/tests/integration/h264dec.o
	$(call msg,LD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs $(AVCODEC_PKGS) 2>/dev/null) -lyuv -lm
$(BUILD)/obj/tests/integration/h264dec.o: CFLAGS += $(shell pkg-config --cflags $(AVCODEC_PKGS) 2>/dev/null)

# The users file tool: argon2id (libargon2).
$(BUILD)/webkvm-passwd: $(BUILD)/obj/proxy/passwd/main.o $(BUILD)/obj/proxy/auth.o $(BUILD)/obj/proxy/rest.o \
			 $(CTLPROTO_OBJ) $(COMMON_OBJ)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -largon2 $(shell $(PKG_CONFIG) --libs jansson libxxhash 2>/dev/null)

# The network edge: no device code; libwebsockets, and libargon2 for logins.
$(BUILD)/webkvm-proxy: $(BUILD)/obj/proxy/main.o $(PROXY_OBJ) $(CTLPROTO_OBJ) $(COMMON_OBJ)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LWS_LIBS) $(shell $(PKG_CONFIG) --libs jansson libxxhash 2>/dev/null) -largon2

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o
	$(call msg,LD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

deps:
	$(Q)scripts/install-deps.sh

# arm64: the headers of the -dev packages that are not multiarch, as
# Debian builds them for arm64.
$(DEB_ROOT)/usr/include/lws_config.h: DEB := libwebsockets-dev
$(DEB_ROOT)/usr/include/rfb/rfbconfig.h: DEB := libvncserver-dev
$(DEB_HDRS):
	$(call msg,DEB,$(DEB):arm64)
	@mkdir -p $(DEB_ROOT)/$(DEB)
	$(Q)cd $(DEB_ROOT)/$(DEB) && rm -f *.deb && apt-get download -q=2 $(DEB):arm64 2>/dev/null && \
		dpkg-deb -x $(DEB)_*_arm64.deb $(CURDIR)/$(DEB_ROOT) && rm -f $(DEB)_*_arm64.deb
	@test -f $@ || { echo "arm64: $(DEB):arm64 has no $@" >&2; exit 1; }

# web/: noVNC core + our page, bundled by esbuild into web/dist.  npm ci
# writes node_modules/.package-lock.json; touching it keeps make quiet.
WEB_SRC := web/build.mjs $(wildcard web/src/*)
web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	$(call msg,NPM,web)
	$(Q)cd web && npm ci --no-audit --no-fund --loglevel=error
	$(Q)touch $@
web/dist/index.html: web/node_modules/.package-lock.json $(WEB_SRC)
	$(call msg,WEB,web/dist)
	$(Q)cd web && node build.mjs
web: web/dist/index.html

run: deps
	$(Q)$(MAKE) --no-print-directory all web
	$(Q)scripts/run.sh $(BUILD)

test: deps
	$(Q)$(MAKE) --no-print-directory all web
	$(Q)$(if $(filter 1,$(SAN)),,$(MAKE) --no-print-directory ARCH=arm64 all)
	$(Q)BUILD=$(BUILD) tests/run-all.sh

test-unit: all
	$(Q)BUILD=$(BUILD) tests/run-all.sh unit

test-integration: all
	$(Q)BUILD=$(BUILD) tests/run-all.sh integration

test-browser: all web
	$(Q)BUILD=$(BUILD) tests/run-all.sh browser

# The QEMU board: Debian's kernel under TCG with vivid (HDMI capture) and
# dummy_hcd (USB gadget + host), the unchanged firmware inside.
qemu: deps all
	$(Q)board/qemu-x86_64/mkimage.sh $(BUILD)
	$(Q)board/qemu-x86_64/run.sh -i $(BUILD)

test-hil: deps all
	$(Q)BUILD=$(BUILD) tests/run-all.sh hil

# libFuzzer harnesses (clang-14), built into build/fuzz/ by the script.
FUZZ_SECONDS ?= 60
fuzz: deps
	$(Q)tests/fuzz/run.sh --seconds $(FUZZ_SECONDS)

# Side-by-side benchmarks; rewrites BENCHMARKS.md.  BENCH_QUICK=1 for a
# run under a minute.
bench: deps all
	$(Q)BUILD=$(BUILD) bench/run.sh

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
