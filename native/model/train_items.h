// A training step's inputs (trainer.h): their checks (one set and one wording for every trainer and
// binding), and their grouping into packed passes under a row budget:
//   pairs: a prompt with its image tokens and two responses (DPO; pass_layout.h's shared prefix
//     or two full sequences);
//   SFT items: a sequence and its target mask; each item's rows end at its last target (later
//     tokens influence no target), so an item without a target takes no rows; or (the full
//     trainer's packing, kept so its results stay bit for bit the toy pretrainer's) whole items.
// Legend: T tokens of an item, E scored tokens of a pass, Bg pairs of a group.
#pragma once
#include <string>
#include <vector>

#include "model/llava.h"
#include "model/pass_layout.h"

namespace stic::model {

struct SftItem {
  Sequence seq;
  std::vector<uint8_t> mask;  // (T) nonzero: ids[t] is a target
};

// Checks a pair against the config and the call's images (tokenRows); `where` names it ("pairs[2]").
Status validatePair(const LlavaConfig& cfg, const PairInput& pair, const TokenRows& tokenRows, const std::string& where);
// The items of one SFT call against its images (tokenRows: one entry per image), at least one.
// targetRequired: every item has a target (the LoRA trainer's sftStep); false: an item without
// one is accepted and adds nothing (the pretrainer's step and loss).
Status validateSftItems(const LlavaConfig& cfg, const std::vector<SftItem>& items, const TokenRows& tokenRows, bool targetRequired);
// One item, named by `where` ("items[2]"): at least 2 ids (a context and a target), one mask flag
// per id, no target at 0 or on an image token, text ids in the vocabulary, image indices in the
// batch and their image tokens, and (targetRequired) a target.
Status validateSftItem(const LlavaConfig& cfg, const SftItem& item, const TokenRows& tokenRows, const std::string& where,
                       bool targetRequired);

// Pairs [begin, end) of a call in one pass: the layout, the scored entries (every chosen token of
// the group's pairs, then every rejected token) and the sequence of each entry (b: chosen of the
// group's pair b, Bg + b: its rejected).
struct PassGroup {
  size_t begin = 0, end = 0;
  PassLayout layout;
  std::vector<HeadEntry> entries;
  std::vector<int64_t> seq;  // (E)
  int64_t firstRejected = 0;   // entries [firstRejected, E) are rejected tokens (DPO)
  size_t size() const { return end - begin; }
};
std::vector<PassGroup> groupPairs(const std::vector<PairInput>& pairs, const LlavaConfig& cfg, const TokenRows& tokenRows, bool shared);

// SFT items in one pass: the layout and the scored entries (the row before each target predicts it).
struct SftGroup {
  PassLayout layout;
  std::vector<HeadEntry> entries;
};
// Passes of at most `rowBudget` rows (an item longer than that is a pass of its own); `whole`:
// every item with all its ids (the pretrainer's packing), not only up to its last target.
std::vector<SftGroup> groupItems(const std::vector<SftItem>& items, const LlavaConfig& cfg, const TokenRows& tokenRows,
                                 int64_t rowBudget, bool whole);

}  // namespace stic::model
