// Model acquisition for `--model NAME=SOURCE`: turns SOURCE into a local model folder in Hugging
// Face layout. Owns the Hugging Face cache lookup and the Hub download (libcurl) into that cache.
// This is not inference: the engine (src/engine) only ever loads a local folder, and never links
// libcurl; the CLI resolves SOURCE here first and hands the folder to engine::open_embedder.
//
// SOURCE is, in this order:
//   1. a local folder that exists and holds config.json: returned as is ("~/" is expanded);
//   2. a Hub repo id `org/name` (or `name`), optionally `@revision` (branch, tag or commit; default
//      main), found in the local cache: $HF_HUB_CACHE, else $HF_HOME/hub, else
//      ${XDG_CACHE_HOME:-~/.cache}/huggingface/hub, in the layout huggingface_hub uses
//      (models--org--name/refs/<revision>, snapshots/<commit>/<files> -> ../../blobs/<etag>);
//      a snapshot counts when it holds config.json and its safetensors weights (all shards);
//   3. otherwise downloaded from the Hub ($HF_ENDPOINT, default https://huggingface.co; token from
//      $HF_TOKEN, else the file $HF_TOKEN_PATH or $HF_HOME/token) into that same cache: only the
//      files an encoder needs (config, safetensors weights, tokenizer and sentence-transformers
//      files), each into blobs/<etag> through blobs/<etag>.incomplete (resumed with a Range
//      request, across retries and across runs), verified against the ETag's sha256 for LFS files,
//      then linked from snapshots/<commit>/<path>; refs/<revision> is written last.
//      HF_HUB_OFFLINE=1 forbids downloads (cache only).
//
// Thread-safety: resolve_model_source() may be called from several threads and processes at once;
// a blob is downloaded under an exclusive file lock (<cache>/.locks/models--org--name/<etag>.lock),
// the same scheme huggingface_hub uses.
#pragma once

#include <filesystem>
#include <string>

namespace ej::hub {

// Returns a local folder holding the model. Throws ej::Error with a message that says what was
// tried: kNotFound (no such folder / repo / revision, or not cached while offline),
// kUnauthenticated / kPermissionDenied (private or gated repo: set HF_TOKEN), kUnavailable (the
// Hub cannot be reached, or a download kept failing; a partial download is kept for resuming),
// kInternal (checksum or size mismatch: the corrupt download is removed), kInvalidArgument
// (a source that is neither a folder nor a repo id, or a repo without safetensors weights).
std::string resolve_model_source(const std::string& source);

// The Hugging Face hub cache folder the environment selects (see above); need not exist.
std::filesystem::path hf_hub_cache_dir();

}  // namespace ej::hub
