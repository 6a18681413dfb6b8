# Postern - one Makefile for every library, service, tool and test.
#
#   make            install missing Debian packages, build everything into build/
#   make test       build, start real servers, run every suite; last line "N passed, N failed"
#   make test SANITIZE=1   the same with AddressSanitizer + UBSan (into build/asan/)
#   make run        run Postern on this machine (see README)
#   make deps       only install the Debian packages
#   make bench      start the real stack, measure it against baselines (bench/README.md);
#                   QUICK=1 for a smoke run under 2 minutes
#   make kube-test  build the images offline and play deploy/k8s as pods under podman,
#                   a mail end to end through two brokers (tests/deploy/kube.sh; root)
#
# Public targets first make sure the packages are there, then build in a
# sub-make, so pkg-config is asked only once the packages exist.

SANITIZE ?= 0
ifeq ($(SANITIZE),1)
B := build/asan
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
B := build
SANFLAGS :=
endif

SERVICES := broker mailstore keylookup provision webui reaper gateway
PKGS := libczmq libzmq libprotobuf-c hiredis libpq gpgme libassuan gmime-3.0 libcurl libsodium libcrypto
MAKEFLAGS += --no-builtin-rules
SUB = $(MAKE) --no-print-directory -f Makefile SANITIZE=$(SANITIZE)

.PHONY: all build test run stop bench deps clean docs po kube-test _build _test-bins _bench-bins fmt
all build: deps
	@$(SUB) -j$$(nproc) _build

test: deps
	@$(SUB) -j$$(nproc) _build _test-bins
	@POSTERN_BUILD=$(B) tests/run

run: deps
	@$(SUB) -j$$(nproc) _build
	@POSTERN_BUILD=$(B) tools/run-local

bench: deps
	@$(SUB) -j$$(nproc) _build _bench-bins
	@POSTERN_BUILD=$(B) QUICK=$(QUICK) bench/run

kube-test: deps
	@$(SUB) -j$$(nproc) _build
	@POSTERN_BUILD=$(B) tests/deploy/kube.sh

stop:
	@tools/run-local --stop

deps:
	@tools/deps

docs: build
	@tools/gen-config-doc $(B)

# po/postern.pot from the sources and templates, and every po/<lang>.po
# merged with it (new messages arrive untranslated: make fails until done)
po: deps
	@$(SUB) $(B)/po/postern.pot
	cp $(B)/po/postern.pot po/postern.pot
	@for l in $(PO_LANGS); do msgmerge --quiet --update --backup=none po/$$l.po po/postern.pot; done

clean:
	rm -rf build

# ---------------------------------------------------------------------------
# Everything below runs in the sub-make, with the packages installed.

CC := gcc
CPPFLAGS := -Ilib/include -I$(B)/gen -D_GNU_SOURCE $(shell pkg-config --cflags $(PKGS) cmocka 2>/dev/null)
CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-unused-parameter \
	-fstack-protector-strong -fPIE $(SANFLAGS)
LDFLAGS := -pie -Wl,-z,relro,-z,now $(SANFLAGS)
LDLIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcivetweb -lpthread -lm
TEST_LDLIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

PROTOS := $(wildcard proto/postern/v1/*.proto)
GEN_C := $(patsubst proto/%.proto,$(B)/gen/%.pb-c.c,$(PROTOS))
GEN_H := $(GEN_C:.c=.h)
# Keep every intermediate file (generated sources, test objects): make
# would otherwise delete them and rebuild them on every run.
.SECONDARY:

$(B)/gen/%.pb-c.c $(B)/gen/%.pb-c.h: proto/%.proto $(PROTOS)
	@mkdir -p $(B)/gen
	protoc-c --proto_path=proto --c_out=$(B)/gen $<

LIB_SRC := $(wildcard lib/src/*.c)
LIB_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(LIB_SRC)) $(patsubst %.c,%.o,$(subst $(B)/gen/,$(B)/obj/gen/,$(GEN_C))) \
	$(B)/obj/gen/tmpl_builtin.o
LIB := $(B)/lib/libpostern.a
# helpers shared by the unit tests (tests/support/support.h)
SUPPORT_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(wildcard tests/support/*.c))

# Quiet by default (one short line per step); V=1 shows the commands.
ifeq ($(V),1)
Q :=
else
Q := @
endif

$(B)/obj/gen/%.o: $(B)/gen/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-unused-parameter -MMD -MP -c -o $@ $<

$(B)/obj/%.o: %.c | $(GEN_H)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# services/<name>/*.c -> build/bin/postern-<name>; main.c only wires, the
# rest links into that service's unit tests too.
define service_rules
$(1)_SRC := $$(filter-out %_test.c,$$(wildcard services/$(1)/*.c))
$(1)_OBJ := $$(patsubst %.c,$(B)/obj/%.o,$$($(1)_SRC))
$(1)_LOGIC := $$(filter-out %/main.o,$$($(1)_OBJ))
$(B)/bin/postern-$(1): $$($(1)_OBJ) $(LIB)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
$(1)_TESTS := $$(patsubst services/$(1)/tests/%.c,$(B)/tests/unit/$(1)_%,$$(wildcard services/$(1)/tests/*_test.c))
$(B)/tests/unit/$(1)_%: $(B)/obj/services/$(1)/tests/%.o $$($(1)_LOGIC) $(SUPPORT_OBJ) $(LIB)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS) $$(TEST_LDLIBS)
endef
$(foreach s,$(SERVICES),$(eval $(call service_rules,$(s))))

# --- mailstore: schema migrations compiled into the binary ------------------
# services/mailstore/migrations/NNN_name.sql -> $(B)/gen/ms_migrations.c with
# ms_migration_names[] / ms_migration_sql[] (NULL-terminated, in file order),
# linked into postern-mailstore and its unit tests. See ms_migrate.c.
MS_MIGRATIONS := $(sort $(wildcard services/mailstore/migrations/*.sql))
$(B)/gen/ms_migrations.c: $(MS_MIGRATIONS) tools/embed-files
	@mkdir -p $(dir $@)
	@tools/embed-files ms_migration_names ms_migration_sql services/mailstore/migrations/ .sql \
	  $(MS_MIGRATIONS) > $@.tmp && mv $@.tmp $@
$(B)/bin/postern-mailstore $(mailstore_TESTS): $(B)/obj/gen/ms_migrations.o
# ---------------------------------------------------------------------------

# --- languages and templates ------------------------------------------------
# po/<lang>.po -> $(B)/locale/<lang>/LC_MESSAGES/postern.mo (lib/src/i18n.c
# finds it beside bin/). The messages are extracted from the sources and
# the templates at every build; a catalogue that lacks one of them, or has
# one untranslated or fuzzy, fails the build (tools/po-check).
PO_LANGS := en de fr
TEMPLATES := $(sort $(shell find share/postern/templates -type f 2>/dev/null))
I18N_SRC := $(sort $(wildcard lib/src/*.c services/*/*.c tools/posternctl/*.c))
MO_FILES := $(foreach l,$(PO_LANGS),$(B)/locale/$(l)/LC_MESSAGES/postern.mo)
$(B)/po/postern.pot: $(I18N_SRC) $(TEMPLATES) tools/po-templates
	@mkdir -p $(dir $@)
	@tools/po-templates $(TEMPLATES) > $(B)/po/templates.c
	@xgettext --from-code=UTF-8 --language=C --keyword=_ --keyword=N_ \
	  --keyword=P_:1,2 --keyword=NP_:1,2 --add-comments=TRANSLATORS: --package-name=postern \
	  --msgid-bugs-address=postern@localhost --no-location --sort-output \
	  -o $@.tmp $(I18N_SRC) $(B)/po/templates.c && mv $@.tmp $@
$(B)/locale/%/LC_MESSAGES/postern.mo: po/%.po $(B)/po/postern.pot tools/po-check
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  MSGFMT  $<")
	$(Q)tools/po-check $< $(B)/po/postern.pot
	$(Q)msgfmt --check -o $@ $<
# share/postern/templates/** compiled into the library (lib/src/tmpl_set.c)
$(B)/gen/tmpl_builtin.c: $(TEMPLATES) tools/embed-files
	@mkdir -p $(dir $@)
	@tools/embed-files pn_tmpl_builtin_names pn_tmpl_builtin_src share/postern/templates/ "" \
	  $(TEMPLATES) > $@.tmp && mv $@.tmp $@
# ---------------------------------------------------------------------------

# --- webui: the style sheet compiled in ---------------------------------------
$(B)/gen/web_static.c: services/webui/postern.css services/webui/gen-static
	@mkdir -p $(dir $@)
	services/webui/gen-static $@
$(B)/bin/postern-webui $(webui_TESTS): $(B)/obj/gen/web_static.o
# ---------------------------------------------------------------------------

# --- gateway: libmilter speaks the milter protocol, jansson the API's JSON ---
$(B)/bin/postern-gateway $(gateway_TESTS): LDLIBS += -lmilter -ljansson
# ---------------------------------------------------------------------------

CTL_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(wildcard tools/posternctl/*.c))
$(B)/bin/posternctl: $(CTL_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

SINK_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(wildcard tests/smtpsink/*.c))
$(B)/bin/postern-smtpsink: $(SINK_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# the tests' WKD + VKS server over TLS (tests/keyserver)
KS_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(wildcard tests/keyserver/*.c))
$(B)/bin/postern-keyserver: $(KS_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lssl -lcrypto -lpthread

BINS := $(foreach s,$(SERVICES),$(B)/bin/postern-$(s)) $(B)/bin/posternctl $(B)/bin/postern-smtpsink \
	$(B)/bin/postern-keyserver
_build: $(BINS) $(MO_FILES)

# Unit tests: lib/tests/<x>_test.c -> build/tests/unit/lib_<x>_test, with tests/support
LIB_TESTS := $(patsubst lib/tests/%.c,$(B)/tests/unit/lib_%,$(wildcard lib/tests/*_test.c))
$(B)/tests/unit/lib_%: $(B)/obj/lib/tests/%.o $(SUPPORT_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(TEST_LDLIBS)

# Integration tests: tests/it/<x>_test.c + tests/harness/*.c -> build/tests/it/<x>_test
HARNESS_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(wildcard tests/harness/*.c))
IT_TESTS := $(patsubst tests/it/%.c,$(B)/tests/it/%,$(wildcard tests/it/*_test.c))
$(B)/tests/it/%: $(B)/obj/tests/it/%.o $(HARNESS_OBJ) $(SUPPORT_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(TEST_LDLIBS)

# Benchmark load generators: bench/<x>.c -> $(B)/bench/<x> (make bench)
BENCH_BINS := $(patsubst bench/%.c,$(B)/bench/%,$(wildcard bench/*.c))
$(B)/bench/%: $(B)/obj/bench/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
_bench-bins: $(BENCH_BINS)

_test-bins: $(LIB_TESTS) $(foreach s,$(SERVICES),$($(s)_TESTS)) $(IT_TESTS)

# --- fuzzing: tests/fuzz (make fuzz, make fuzz-http, replay suites in make test) ---
# Each tests/fuzz/<t>.c (not replay.c) is one libFuzzer harness. It is built
# twice: by clang with libFuzzer, ASan and UBSan into build/fuzz/bin/<t> for
# "make fuzz" (FUZZ_S seconds per target, default 60; FUZZ_TARGETS to pick),
# and by $(CC) with replay.c into $(B)/tests/unit/fuzz_<t>, a unit suite that
# replays tests/fuzz/corpus/<t> and tests/fuzz/crashes/<t> in "make test".
# Both link the real library and the services' logic objects (as archives,
# so a harness pulls only what it calls). "make fuzz-http" sends zzuf-mutated
# requests Chromium made to a running ASan web UI (tests/fuzz/http.sh, in the
# browser suite). "make hostile" views every vector of the hostile HTML corpus
# (tests/browser/hostile); make test runs a quick subset of both.
.PHONY: fuzz fuzz-http hostile _fuzz-bins
FUZZ_S ?= 60
FUZZ_HTTP_N ?= 100000
fuzz: deps
	@$(SUB) -j$$(nproc) _fuzz-bins
	@FUZZ_S=$(FUZZ_S) FUZZ_TARGETS="$(FUZZ_TARGETS)" tests/fuzz/run-fuzz

fuzz-http: deps
	@$(MAKE) --no-print-directory -f Makefile SANITIZE=1 -j$$(nproc) _build _test-bins
	@POSTERN_BUILD=build/asan POSTERN_TEST_TIMEOUT=7200 BROWSER_ONLY=hostile \
		FUZZ_HTTP_N=$(FUZZ_HTTP_N) TESTS=browser tests/run

hostile: deps
	@$(SUB) -j$$(nproc) _build _test-bins
	@POSTERN_BUILD=$(B) POSTERN_TEST_TIMEOUT=3600 BROWSER_ONLY=hostile HOSTILE=all \
		TESTS=browser tests/run

FUZZ_NAMES := $(filter-out replay,$(basename $(notdir $(wildcard tests/fuzz/*.c))))
FUZZ_SVC := webui gateway keylookup mailstore provision
FUZZ_LDLIBS = $(LDLIBS) -lmilter -ljansson

# replay suites, built like every other test
FUZZ_REPLAYS := $(patsubst %,$(B)/tests/unit/fuzz_%,$(FUZZ_NAMES))
FUZZ_SVC_LIBS := $(patsubst %,$(B)/lib/fuzz-%.a,$(FUZZ_SVC))
$(B)/lib/fuzz-webui.a: $(webui_LOGIC) $(B)/obj/gen/web_static.o
$(B)/lib/fuzz-mailstore.a: $(mailstore_LOGIC) $(B)/obj/gen/ms_migrations.o
$(B)/lib/fuzz-gateway.a: $(gateway_LOGIC)
$(B)/lib/fuzz-keylookup.a: $(keylookup_LOGIC)
$(B)/lib/fuzz-provision.a: $(provision_LOGIC)
$(FUZZ_SVC_LIBS):
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^
$(B)/obj/tests/fuzz/replay-%.o: tests/fuzz/replay.c | $(GEN_H)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -DFUZZ_NAME='"$*"' -MMD -MP -c -o $@ $<
$(B)/tests/unit/fuzz_%: $(B)/obj/tests/fuzz/%.o $(B)/obj/tests/fuzz/replay-%.o $(FUZZ_SVC_LIBS) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(FUZZ_SVC_LIBS) $(LIB) $(FUZZ_LDLIBS)
_test-bins: $(FUZZ_REPLAYS)

# libFuzzer binaries: everything compiled again by clang with coverage
FZ := build/fuzz
FZ_CC := clang
FZ_CFLAGS := -std=gnu11 -O1 -g -fno-omit-frame-pointer -Wall -Wno-unused-parameter \
	-fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=undefined
FZ_LDFLAGS := -fsanitize=address,undefined,fuzzer
FZ_LIB_OBJ := $(patsubst %.c,$(FZ)/obj/%.o,$(LIB_SRC)) $(patsubst $(B)/gen/%.c,$(FZ)/obj/gen/%.o,$(GEN_C)) $(FZ)/obj/gen/tmpl_builtin.o
$(FZ)/obj/gen/%.o: $(B)/gen/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CLANG   $<")
	$(Q)$(FZ_CC) $(CPPFLAGS) $(FZ_CFLAGS) -MMD -MP -c -o $@ $<
$(FZ)/obj/%.o: %.c | $(GEN_H)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CLANG   $<")
	$(Q)$(FZ_CC) $(CPPFLAGS) $(FZ_CFLAGS) -MMD -MP -c -o $@ $<
$(FZ)/lib/libpostern.a: $(FZ_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^
fz_logic = $(patsubst %.c,$(FZ)/obj/%.o,$(filter-out %/main.c,$($(1)_SRC)))
$(FZ)/lib/fuzz-webui.a: $(call fz_logic,webui) $(FZ)/obj/gen/web_static.o
$(FZ)/lib/fuzz-mailstore.a: $(call fz_logic,mailstore) $(FZ)/obj/gen/ms_migrations.o
$(FZ)/lib/fuzz-gateway.a: $(call fz_logic,gateway)
$(FZ)/lib/fuzz-keylookup.a: $(call fz_logic,keylookup)
$(FZ)/lib/fuzz-provision.a: $(call fz_logic,provision)
FZ_SVC_LIBS := $(patsubst %,$(FZ)/lib/fuzz-%.a,$(FUZZ_SVC))
$(FZ_SVC_LIBS):
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^
$(FZ)/bin/%: $(FZ)/obj/tests/fuzz/%.o $(FZ_SVC_LIBS) $(FZ)/lib/libpostern.a
	@mkdir -p $(dir $@)
	$(FZ_CC) $(FZ_LDFLAGS) -o $@ $< $(FZ_SVC_LIBS) $(FZ)/lib/libpostern.a $(FUZZ_LDLIBS)
_fuzz-bins: $(patsubst %,$(FZ)/bin/%,$(FUZZ_NAMES))
-include $(shell find $(FZ)/obj -name '*.d' 2>/dev/null)
# --- chaos: tests/chaos/*.c -> $(B)/tests/it/chaos_test (docs/chaos.md) --------
# make test runs it short (150 events, each fault once); make chaos runs
# CHAOS_EVENTS (10000) with each fault CHAOS_ROUNDS (3) times, under nice,
# and leaves the report in $(B)/chaos/. CHAOS_SEED=N plans a run again.
CHAOS_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(wildcard tests/chaos/*.c))
$(B)/tests/it/chaos_test: $(CHAOS_OBJ) $(HARNESS_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(TEST_LDLIBS)
_test-bins: $(B)/tests/it/chaos_test
.PHONY: chaos
chaos: deps
	@$(SUB) -j$$(nproc) _build _test-bins
	@POSTERN_BUILD=$(B) TESTS=chaos_test V=1 POSTERN_TEST_TIMEOUT=$${POSTERN_TEST_TIMEOUT:-10800} \
	  CHAOS_EVENTS=$${CHAOS_EVENTS:-10000} CHAOS_ROUNDS=$${CHAOS_ROUNDS:-3} nice -n 10 tests/run
# ---------------------------------------------------------------------------

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
