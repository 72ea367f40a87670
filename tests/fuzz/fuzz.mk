# Builds the libFuzzer harnesses with clang into build/fuzz/.  Run through
# tests/fuzz/run.sh, which calls: make -f tests/fuzz/fuzz.mk -j2 all
#
# The module sources are compiled again here, with coverage instrumentation
# (-fsanitize=fuzzer-no-link): the gcc objects in build/obj give libFuzzer no
# edges to follow.  Objects are kept, so a second run only relinks what
# changed.

FUZZ_CC  ?= clang-14
FB       := build/fuzz
# Not SAN: `make test SAN=1` passes SAN=1 down to this make on its command
# line, which would override a variable of that name here.
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
PKGS     := libturbojpeg libxxhash libvncserver jansson x264
CPPFLAGS := -I. -Ibuild/gen -D_GNU_SOURCE
CFLAGS   := -std=c11 -g -O1 -pthread -Wall -Wextra -Wshadow $(FUZZ_SAN) -MMD -MP \
            $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LIBS     := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lyuv -lz -lm -pthread

cobj = $(patsubst %.c,$(FB)/obj/%.o,$(1))
COMMON_O := $(call cobj,$(wildcard common/*.c))
CAP_O    := $(call cobj,$(wildcard capture/*.c))
HID_O    := $(call cobj,$(wildcard hid/*.c))
RFB_O    := $(call cobj,$(wildcard rfb/*.c))
SIM_O    := $(call cobj,$(wildcard board/sim/*.c)) $(FB)/obj/gen/font_vga16.o
BOARD_O  := $(call cobj,$(wildcard board/*.c))
FW_O     := $(call cobj,$(filter-out firmware/main.c,$(wildcard firmware/*.c)))
# server*.c are the libwebsockets glue; the parsers and the request
# decisions (http.c) are in the other files.
PROXY_O  := $(call cobj,$(filter-out proxy/main.c proxy/server%,$(wildcard proxy/*.c))) \
            $(FB)/obj/firmware/ctlproto.o

HARNESS  := $(patsubst tests/fuzz/%.c,$(FB)/%,$(wildcard tests/fuzz/fuzz_*.c))

.PHONY: all
all: $(HARNESS)

$(FB)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) $(CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

# Per-pixel and per-cell loops without coverage (tests/fuzz/nocov.txt): the
# sim's painter and cell diff were three quarters of fuzz_sim's time and
# give no edge worth following.  ASan and UBSan still check them.
$(FB)/obj/board/sim/%.o: board/sim/%.c tests/fuzz/nocov.txt
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) $(CFLAGS) -fsanitize=fuzzer-no-link \
		-fsanitize-coverage-ignorelist=tests/fuzz/nocov.txt -c -o $@ $<

$(FB)/obj/gen/%.o: build/gen/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) $(CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FB)/obj/tests/fuzz/%.o: tests/fuzz/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) $(CFLAGS) -Werror -fsanitize=fuzzer-no-link -c -o $@ $<

# What each harness links: the module it fuzzes and what that builds on.
$(FB)/fuzz_rfb_framing: $(FB)/obj/rfb/framing.o
$(FB)/fuzz_rfb: $(RFB_O) $(CAP_O)
$(FB)/fuzz_proxy: $(PROXY_O)
$(FB)/fuzz_proxy_auth: $(PROXY_O)
$(FB)/fuzz_proxy_http: $(PROXY_O)
$(FB)/fuzz_fw_config: $(FW_O) $(RFB_O) $(BOARD_O) $(SIM_O) $(HID_O) $(CAP_O)
$(FB)/fuzz_fw_json: $(FW_O) $(RFB_O) $(BOARD_O) $(SIM_O) $(HID_O) $(CAP_O)
$(FB)/fuzz_board: $(BOARD_O) $(SIM_O) $(HID_O) $(CAP_O)
$(FB)/fuzz_capture: $(CAP_O)
$(FB)/fuzz_hid: $(HID_O)
$(FB)/fuzz_sim: $(SIM_O) $(HID_O)

# auth.c checks passwords with libargon2.
$(FB)/fuzz_proxy $(FB)/fuzz_proxy_auth $(FB)/fuzz_proxy_http: LIBS += -largon2

$(FB)/fuzz_%: $(FB)/obj/tests/fuzz/fuzz_%.o $(COMMON_O)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LIBS)

.SECONDARY:
-include $(shell find $(FB)/obj -name '*.d' 2>/dev/null)
