// The layout of one packed decoder pass, for every use of the decoder (generation, scoring,
// LoRA training, pretraining): which token fills each row, its rotary position, which
// image-feature row replaces it, and which keys each query row attends to. Linear layers see all
// T rows at once; attention only ever looks at a segment's own keys, so items of different lengths
// share a pass without padding and without cross-item attention.
// A segment's keys are rows of the pass, or a KV-cache slot's rows followed by the pass's own
// (generation). Rows of the pass can be keys of several segments: a preference pair runs its image
// + prompt once and the chosen and rejected responses as two branches over that shared prefix
// (DESIGN.md, "Performance design"), or, for comparison, as two full sequences:
//   shared:   rows [prefix P | chosen C-1 | rejected R-1]; the prefix attends causally to itself,
//             each branch to the prefix keys and causally to its own keys (positions P, P+1, ...).
//   separate: rows [prompt + chosen[:-1] | prompt + rejected[:-1]], two ordinary causal sequences.
// A response's last token is only a target, never an input, so it gets no row: the logit of
// response token j comes from the row of the token before it (the prefix's last row for j = 0).
// Legend: T rows of the pass, P prompt tokens, C/R chosen/rejected response tokens.
#pragma once
#include <cstdint>
#include <vector>

#include "core/status.h"
#include "model/llava_config.h"

namespace stic::model {

// Key rows [row, row + len) of the pass.
struct KeyPiece {
  int64_t row = 0;
  int64_t len = 0;
};

// Query rows [qRow, qRow + qLen) attend causally to S keys, whose last qLen are the queries' own:
// query i sees keys [0, S - qLen + i]. The keys are the concatenation of `keys` (rows of the pass)
// or, with a KV-cache slot, the slot's first `cached` rows and then `keys` = the query rows, whose
// keys and values the pass appends to the slot (at rows [cached, cached + qLen)).
struct AttnSegment {
  int64_t qRow = 0;
  int64_t qLen = 0;
  std::vector<KeyPiece> keys;
  int64_t slot = -1;   // KV-cache slot, or -1: the keys are rows of the pass only
  int64_t cached = 0;  // keys already in the slot (0 without a slot)
  int64_t keyLen() const;   // S
  bool contiguous() const;  // the pieces are adjacent rows: K/V can be read in place
};

// A scored token: the hidden state of `row` predicts `target`.
struct HeadEntry {
  int64_t row = 0;
  int64_t target = 0;
};

struct PassLayout {
  std::vector<int64_t> ids;         // (T) input ids (image tokens included)
  std::vector<int64_t> pos;         // (T) rotary positions
  std::vector<int64_t> featureRow;  // (T) row of the call's features (imageTokenRows), or -1 for a text token
  std::vector<AttnSegment> segments;  // query rows tile [0, T) in order
  int64_t rows() const { return static_cast<int64_t>(ids.size()); }
  int64_t maxKeys() const;  // the longest segment's key count
};

// One preference pair: prompt (image tokens expanded) and the two responses (no image tokens).
struct PairInput {
  std::vector<int64_t> images;  // indices into the call's images, in order of appearance
  std::vector<int64_t> prompt;  // (P)
  std::vector<int64_t> chosen;  // (C)
  std::vector<int64_t> rejected;  // (R)
};

// Where a pair's response tokens are scored: chosen[j] from row chosenRows[j], likewise rejected.
struct PairRows {
  std::vector<HeadEntry> chosen;
  std::vector<HeadEntry> rejected;
};

// tokenRows[k]: the feature row of each image token of the call's image k (image_layout.h).
using TokenRows = std::vector<std::vector<int64_t>>;

// Appends the pair to the layout (shared prefix or two full sequences) and returns its head entries.
PairRows appendPair(PassLayout& layout, const PairInput& pair, int64_t imageTokenId, const TokenRows& tokenRows, bool sharedPrefix);

// Appends one causal sequence of `ids` (its images in order) at positions 0.. and returns its
// first row; with slot >= 0 its keys and values also go to that KV-cache slot (a prefill).
int64_t appendSequence(PassLayout& layout, const std::vector<int64_t>& ids, const std::vector<int64_t>& images,
                       int64_t imageTokenId, const TokenRows& tokenRows, int64_t slot = -1);

// Appends one text token continuing the sequence of KV-cache slot `slot`, which holds `cached`
// keys (a decode step): position `cached`, attending to the slot's keys and its own.
int64_t appendCachedToken(PassLayout& layout, int64_t id, int64_t slot, int64_t cached);

// Rows a pair takes in a pass of either kind (for grouping pairs under a row budget).
int64_t pairRows(const PairInput& pair, bool sharedPrefix);

}  // namespace stic::model
