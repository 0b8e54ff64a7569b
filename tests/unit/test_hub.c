/* test_hub.c - finding models in a fake Hugging Face cache built in a temp
 * folder with the real layout (refs/<branch>, blobs/<etag>, snapshots/
 * <commit>/<file> as relative symlinks), under every way of naming the
 * cache (HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE, HF_HOME, XDG_CACHE_HOME,
 * HOME); Hub id parsing; sha256 against published test vectors. */
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "hub/hub.h"

#define C1 "1111111111111111111111111111111111111111"
#define C2 "2222222222222222222222222222222222222222"

static char root[256]; /* the temp folder */

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); exit(1); }
    fputs(text, f);
    fclose(f);
}

static void mkdirs(const char *path) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') { *p = '\0'; mkdir(buf, 0755); *p = '/'; }
    mkdir(buf, 0755);
}

/* <cache>/models--<name>: refs/main -> C1 (ref_text), snapshots C1 and C2
 * each with config.json -> ../../blobs/<etag>. */
static void make_repo(const char *cache, const char *dirname, const char *ref_text) {
    char p[1024], q[1100];
    snprintf(p, sizeof p, "%s/%s/blobs", cache, dirname);
    mkdirs(p);
    snprintf(p, sizeof p, "%s/%s/refs", cache, dirname);
    mkdirs(p);
    snprintf(p, sizeof p, "%s/%s/blobs/aaaa", cache, dirname);
    write_text(p, "{\"model_type\": \"gpt2\"}");
    snprintf(p, sizeof p, "%s/%s/refs/main", cache, dirname);
    write_text(p, ref_text);
    snprintf(p, sizeof p, "%s/%s/refs/v1", cache, dirname);
    write_text(p, C2);
    const char *commits[] = {C1, C2};
    for (int k = 0; k < 2; k++) {
        snprintf(p, sizeof p, "%s/%s/snapshots/%s", cache, dirname, commits[k]);
        mkdirs(p);
        snprintf(q, sizeof q, "%s/config.json", p);
        if (symlink("../../blobs/aaaa", q) != 0) { perror(q); exit(1); }
    }
}

static void clear_env(void) {
    unsetenv("HF_HUB_CACHE");
    unsetenv("HUGGINGFACE_HUB_CACHE");
    unsetenv("HF_HOME");
    unsetenv("XDG_CACHE_HOME");
    unsetenv("HF_HUB_OFFLINE");
    unsetenv("TRANSFORMERS_OFFLINE");
}

/* Resolve id offline and compare the folder with expect (NULL: a miss). */
static void expect_resolve(const char *id, const char *expect) {
    char *folder = NULL;
    int rc = temper__hub_resolve(id, 1, &folder);
    if (expect) {
        CHECK_EQ_INT(rc, 0);
        CHECK_STR(folder, expect);
        if (rc != 0) fprintf(stderr, "  %s: %s\n", id, temper_last_error());
        char cfg[1024];
        snprintf(cfg, sizeof cfg, "%s/config.json", folder ? folder : "");
        CHECK(temper__is_file(cfg)); /* the symlink leads to the blob */
    } else {
        CHECK_EQ_INT(rc, TEMPER_ENOENT);
        CHECK(folder == NULL);
    }
    free(folder);
}

static void test_hf_hub_cache(void) {
    char cache[512], want[1024];
    clear_env();
    snprintf(cache, sizeof cache, "%s/a/hubcache", root);
    setenv("HF_HUB_CACHE", cache, 1);
    snprintf(want, sizeof want, "%s/models--gpt2/snapshots/" C1, cache);
    expect_resolve("gpt2", want);
    snprintf(want, sizeof want, "%s/models--openai-community--gpt2/snapshots/" C1, cache);
    expect_resolve("openai-community/gpt2", want);
    /* a branch or tag goes through refs/, a commit straight to snapshots/ */
    snprintf(want, sizeof want, "%s/models--gpt2/snapshots/" C2, cache);
    expect_resolve("gpt2@v1", want);
    expect_resolve("gpt2@" C2, want);
    expect_resolve("gpt2@nobranch", NULL);
    expect_resolve("gpt2@3333333333333333333333333333333333333333", NULL);
    expect_resolve("distilgpt2", NULL);
    /* HF_HUB_CACHE wins over HF_HOME */
    snprintf(want, sizeof want, "%s/b", root);
    setenv("HF_HOME", want, 1);
    snprintf(want, sizeof want, "%s/models--gpt2/snapshots/" C1, cache);
    expect_resolve("gpt2", want);
    /* the legacy name, used when HF_HUB_CACHE is unset */
    unsetenv("HF_HUB_CACHE");
    setenv("HUGGINGFACE_HUB_CACHE", cache, 1);
    expect_resolve("gpt2", want);
}

static void test_hf_home(void) {
    char home[512], want[1024];
    clear_env();
    snprintf(home, sizeof home, "%s/b", root);
    setenv("HF_HOME", home, 1);
    snprintf(want, sizeof want, "%s/hub/models--gpt2/snapshots/" C1, home);
    expect_resolve("gpt2", want); /* refs/main ends with a newline there */
    /* HF_HOME with ~ is expanded with $HOME, as os.path.expanduser does */
    snprintf(home, sizeof home, "%s/h", root);
    setenv("HOME", home, 1);
    setenv("HF_HOME", "~/hfhome", 1);
    snprintf(want, sizeof want, "%s/h/hfhome/hub/models--gpt2/snapshots/" C1, root);
    expect_resolve("gpt2", want);
    /* XDG_CACHE_HOME/huggingface, then ~/.cache/huggingface */
    unsetenv("HF_HOME");
    snprintf(home, sizeof home, "%s/x", root);
    setenv("XDG_CACHE_HOME", home, 1);
    snprintf(want, sizeof want, "%s/x/huggingface/hub/models--gpt2/snapshots/" C1, root);
    expect_resolve("gpt2", want);
    unsetenv("XDG_CACHE_HOME");
    snprintf(want, sizeof want, "%s/h/.cache/huggingface/hub/models--gpt2/snapshots/" C1, root);
    expect_resolve("gpt2", want);
    /* an empty variable counts as unset */
    setenv("HF_HUB_CACHE", "", 1);
    expect_resolve("gpt2", want);
}

static void test_miss_message(void) {
    char home[512], want[1024];
    clear_env();
    snprintf(home, sizeof home, "%s/b", root);
    setenv("HF_HOME", home, 1);
    char *folder = NULL;
    int rc = temper__hub_resolve("openai-community/nope", 1, &folder);
    CHECK_EQ_INT(rc, TEMPER_ENOENT);
    const char *msg = temper_last_error();
    snprintf(want, sizeof want, "%s/hub/models--openai-community--nope", home);
    CHECK(strstr(msg, want) != NULL);
    CHECK(strstr(msg, "$HF_HOME") != NULL);
    CHECK(strstr(msg, "download openai-community/nope into the cache first (temper_pull)") != NULL);
    CHECK(strstr(msg, "temper pull") == NULL); /* library terms only */
    /* a missing ref names the refs file */
    rc = temper__hub_resolve("gpt2@nobranch", 1, &folder);
    CHECK_EQ_INT(rc, TEMPER_ENOENT);
    snprintf(want, sizeof want, "%s/hub/models--gpt2/refs/nobranch", home);
    CHECK(strstr(temper_last_error(), want) != NULL);
    /* HF_HUB_OFFLINE=1 keeps a miss offline even when offline is 0 */
    setenv("HF_HUB_OFFLINE", "1", 1);
    rc = temper__hub_resolve("nope", 0, &folder);
    CHECK_EQ_INT(rc, TEMPER_ENOENT);
    CHECK(strstr(temper_last_error(), "HF_HUB_OFFLINE") != NULL);
    CHECK(folder == NULL);
    clear_env();
}

static void test_paths(void) {
    char p[1024];
    clear_env();
    setenv("HF_HUB_OFFLINE", "1", 1);
    /* an existing folder or file is returned as is, even if it looks like an id */
    snprintf(p, sizeof p, "%s/b", root);
    char *folder = NULL;
    CHECK_EQ_INT(temper__hub_resolve(p, 1, &folder), 0);
    CHECK_STR(folder, p);
    free(folder);
    snprintf(p, sizeof p, "%s/model.bin", root);
    write_text(p, "llama2.c");
    CHECK_EQ_INT(temper__hub_resolve(p, 1, &folder), 0);
    CHECK_STR(folder, p);
    free(folder);
    CHECK(chdir(root) == 0); /* "model.bin" relative: a file, not an id */
    CHECK_EQ_INT(temper__hub_resolve("model.bin", 1, &folder), 0);
    CHECK_STR(folder, "model.bin");
    free(folder);
    /* a path that does not exist and is not an id */
    CHECK_EQ_INT(temper__hub_resolve("/no/such/folder", 0, &folder), TEMPER_ENOENT);
    CHECK(strstr(temper_last_error(), "/no/such/folder") != NULL);
    CHECK_EQ_INT(temper__hub_resolve("", 0, &folder), TEMPER_EINVAL);
    clear_env();
}

static void test_parse_id(void) {
    char *repo, *rev;
    CHECK_EQ_INT(temper__hub_parse_id("gpt2", &repo, &rev), 1);
    CHECK_STR(repo, "gpt2");
    CHECK(rev == NULL);
    free(repo);
    CHECK_EQ_INT(temper__hub_parse_id("meta-llama/Llama-3.2-1B@refs/pr/1", &repo, &rev), 1);
    CHECK_STR(repo, "meta-llama/Llama-3.2-1B");
    CHECK_STR(rev, "refs/pr/1");
    free(repo);
    free(rev);
    const char *bad[] = {"a/b/c", "./gpt2", "gpt2/", "/gpt2", "a--b", "a..b", "-a", "a.",
                         "gpt 2", "gpt2@", "gpt2@../x", "@main", "~/models/x", ""};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        int r = temper__hub_parse_id(bad[k], NULL, NULL);
        if (r != 0) fprintf(stderr, "  \"%s\" taken for a Hub id\n", bad[k]);
        CHECK_EQ_INT(r, 0);
    }
    CHECK_EQ_INT(temper__hub_parse_id("TinyLlama/TinyLlama-1.1B-Chat-v1.0", NULL, NULL), 1);
    CHECK_EQ_INT(temper__hub_parse_id("a_b.c-d/E", NULL, NULL), 1);
    CHECK(temper__hub_is_commit(C1));
    CHECK(!temper__hub_is_commit("main"));
    CHECK(!temper__hub_is_commit("111111111111111111111111111111111111111"));  /* 39 */
    CHECK(!temper__hub_is_commit("A111111111111111111111111111111111111111")); /* upper */
    char *d = temper__hub_repo_dir("/c", "org/name");
    CHECK_STR(d, "/c/models--org--name");
    free(d);
}

/* temper__file_digest against published vectors: SHA-256 (FIPS 180-2
 * examples, and one million 'a's), and git blob ids (`git hash-object`). */
static void write_bytes(const char *path, const char *data, size_t n, int times) {
    FILE *f = fopen(path, "wb");
    for (int i = 0; i < times; i++) fwrite(data, 1, n, f);
    fclose(f);
}

static void test_digests(void) {
    static const struct { const char *in; int git; const char *hex; } v[] = {
        {"", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", 0, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 0,
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {"", 1, "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"},      /* the empty blob */
        {"hello\n", 1, "ce013625030ba8dba906f756967f9e9ca394464a"},
    };
    char path[600], hex[65];
    snprintf(path, sizeof path, "%s/digest.bin", root);
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
        write_bytes(path, v[k].in, strlen(v[k].in), 1);
        CHECK_EQ_INT(temper__file_digest(path, v[k].git, hex), 0);
        CHECK_STR(hex, v[k].hex);
    }
    char a[1000];
    memset(a, 'a', sizeof a);
    write_bytes(path, a, sizeof a, 1000); /* crosses the 64 KB read buffer */
    CHECK_EQ_INT(temper__file_digest(path, 0, hex), 0);
    CHECK_STR(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    unlink(path);
    CHECK(temper__file_digest(path, 0, hex) < 0);
    CHECK(strstr(temper_last_error(), "digest.bin") != NULL);
}

int main(void) {
    snprintf(root, sizeof root, "/tmp/temper-test-hub-XXXXXX");
    if (!mkdtemp(root)) { perror("mkdtemp"); return 1; }
    char cache[512];
    snprintf(cache, sizeof cache, "%s/a/hubcache", root);
    make_repo(cache, "models--gpt2", C1);
    make_repo(cache, "models--openai-community--gpt2", C1);
    snprintf(cache, sizeof cache, "%s/b/hub", root);
    make_repo(cache, "models--gpt2", C1 "\n");
    snprintf(cache, sizeof cache, "%s/h/hfhome/hub", root);
    make_repo(cache, "models--gpt2", C1);
    snprintf(cache, sizeof cache, "%s/x/huggingface/hub", root);
    make_repo(cache, "models--gpt2", C1);
    snprintf(cache, sizeof cache, "%s/h/.cache/huggingface/hub", root);
    make_repo(cache, "models--gpt2", C1);

    RUN(test_hf_hub_cache);
    RUN(test_hf_home);
    RUN(test_miss_message);
    RUN(test_paths);
    RUN(test_parse_id);
    RUN(test_digests);

    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", root);
    return TEST_SUMMARY();
}
