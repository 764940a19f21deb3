// A training step's inputs (trainer.h): their checks, with the messages each binding's API names,
// and their grouping into packed passes under a row budget:
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

// How an SFT step checks its items (the messages are part of each binding's API):
//   Trainer: validateSequence's rules; every item has a target (validateSftItem).
//   Pretrainer: the toy pretrainer's (validatePretrainItem): single-tile images, "items[i].ids[t]"
//     positions; an item may have no target (it then adds nothing).
enum class ItemRules : uint8_t { Trainer, Pretrainer };

// Checks a pair against the config and the call's images (tokenRows); `where` names it ("pairs[2]").
Status validatePair(const LlavaConfig& cfg, const PairInput& pair, const TokenRows& tokenRows, const std::string& where);
// The items of one SFT call by `rules` against its images (tokenRows: one entry per image).
Status validateSftItems(const LlavaConfig& cfg, const std::vector<SftItem>& items, const TokenRows& tokenRows, ItemRules rules);
Status validateSftItem(const LlavaConfig& cfg, const SftItem& item, const TokenRows& tokenRows, const std::string& where);
// The toy pretrainer's checks of an item against a batch of N single-tile images.
Status validatePretrainItem(const LlavaConfig& cfg, const SftItem& item, int64_t N, const std::string& where);

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
