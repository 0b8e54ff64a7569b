/*
 * hub.h - the local Hugging Face cache and downloads from the Hub.
 *
 * Cache layout (the one huggingface_hub and transformers use, so that a
 * model fetched by one tool is found by the others):
 *
 *   <cache>/models--ORG--NAME/            ("models--gpt2" for an id without ORG)
 *       refs/<revision>                   text file: the 40-hex commit of a branch or tag
 *       blobs/<etag>                      file contents; etag = sha256 for LFS files,
 *                                         the git blob sha1 for the others
 *       blobs/<etag>.incomplete           a download in progress (resumable)
 *       snapshots/<commit>/<file>         relative symlink ../../blobs/<etag>
 *   <cache>/.locks/models--ORG--NAME/<etag>.lock   held (flock) while a blob
 *                                         downloads, as huggingface_hub does
 *
 * <cache> is $HF_HUB_CACHE, else $HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub,
 * else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
 */
#ifndef TEMPER_HUB_H
#define TEMPER_HUB_H

#include <stdint.h>

#include "core/core.h"

/* Turn a folder, a file or a Hub id ("gpt2", "openai-community/gpt2",
 * optionally "@revision", a branch, tag or 40-hex commit) into a path:
 *   - an existing directory: a copy of path_or_id;
 *   - an existing file (a llama2.c .bin, a .safetensors...): a copy, as is;
 *   - a Hub id: its snapshot folder in the cache; on a cache miss (or a
 *     snapshot without config.json or weights), unless offline is set or
 *     HF_HUB_OFFLINE is true, it is downloaded from the Hub
 *     (temper__hub_download with default options, no progress).
 * On success *folder_out is malloc'd and owned by the caller (free()).
 * A miss offline is TEMPER_ENOENT with a message naming the paths looked
 * at and the fix (temper_pull, or pass a folder). */
int temper__hub_resolve(const char *path_or_id, int offline, char **folder_out);
/* The same, the download reporting to progress (may be NULL; a non-zero
 * return cancels: TEMPER_ECANCELED). */
int temper__hub_resolve_progress(const char *path_or_id, int offline, temper_pull_callback progress,
                                 void *user, char **folder_out);

/* 1 if s has the shape of a Hub id ("NAME" or "ORG/NAME", optionally
 * followed by "@REVISION"), else 0. When it does and repo/revision are not
 * NULL, *repo ("ORG/NAME") and *revision (NULL when absent) are malloc'd
 * and owned by the caller. Returns TEMPER_ENOMEM on allocation failure. */
int temper__hub_parse_id(const char *s, char **repo, char **revision);

/* 1 if rev is a full 40-character lowercase hex commit hash. */
int temper__hub_is_commit(const char *rev);

/* The cache folder (see above), malloc'd and owned by the caller. If from
 * is not NULL it gets a static description of where the folder came from
 * ("$HF_HUB_CACHE", "$HF_HOME/hub", "default"...). */
int temper__hub_cache_dir(char **out, const char **from);

/* The huggingface_hub home: $HF_HOME, else $XDG_CACHE_HOME/huggingface,
 * else ~/.cache/huggingface. Malloc'd, owned by the caller. */
int temper__hub_home_dir(char **out);

/* The access token: $HF_TOKEN, else the file $HF_TOKEN_PATH, else
 * <home>/token (written by `huggingface-cli login`). *out is malloc'd and
 * owned by the caller, or NULL when there is none. */
int temper__hub_token(char **out);

/* <cache>/models--ORG--NAME, malloc'd and owned by the caller; NULL: OOM. */
char *temper__hub_repo_dir(const char *cache, const char *repo);

/* 1 if HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is 1/ON/YES/TRUE. */
int temper__hub_env_offline(void);

/* Look repo at revision (NULL: "main") up in the cache, without network.
 * 0 and *folder_out (malloc'd, owned by the caller) = the snapshot folder;
 * TEMPER_ENOENT with a message saying where it looked. */
int temper__hub_find_snapshot(const char *cache, const char *repo,
                              const char *revision, char **folder_out);

/* 1 if folder has config.json and weights temper can read: model.safetensors,
 * or model.safetensors.index.json with every shard, or the same for
 * pytorch_model.bin. */
int temper__hub_snapshot_complete(const char *folder);

/* ---- downloads -------------------------------------------------------- */
/*
 * Two environment variables tune the retries (meant for tests):
 * TEMPER_HUB_RETRIES (default 5 retries per request or file, counted again
 * from zero whenever a retry brought new bytes) and TEMPER_HUB_BACKOFF
 * (first wait in seconds, default 0.5, doubled each time up to 8).
 */

typedef struct temper__hub_opts {
    const char *endpoint;  /* NULL: $HF_ENDPOINT, else https://huggingface.co */
    const char *token;     /* NULL: $HF_TOKEN, else $HF_HOME/token if present */
    const char *cache;     /* NULL: temper__hub_cache_dir() */
    int max_retries;       /* 0: $TEMPER_HUB_RETRIES, else 5 */
    int force;             /* re-download even if the snapshot is complete */
    /* Progress: called at least at the start and end of each file and about
     * every 100 ms in between; a non-zero return cancels (TEMPER_ECANCELED). */
    temper_pull_callback progress;
    void *user;
} temper__hub_opts;

/* Fetch what temper needs from repo at revision (NULL: "main") into the
 * cache: config.json, generation_config.json, the tokenizer files, and
 * model.safetensors (or its index and shards), else pytorch_model.bin (or
 * its index and shards). On success *folder_out is the snapshot folder,
 * malloc'd and owned by the caller. opts may be NULL (defaults). */
int temper__hub_download(const char *repo, const char *revision,
                         const temper__hub_opts *opts, char **folder_out);

/* ---- checksums (digest.c) ------------------------------------------------ */

/* The hex digest of the file at path: SHA-256 of its bytes, or with
 * git_blob git's blob id (SHA-1 of "blob <size>\0" + bytes). hex: 65 bytes
 * (64 or 40 lowercase hex digits + NUL). */
int temper__file_digest(const char *path, int git_blob, char hex[65]);

#endif
