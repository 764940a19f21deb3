// A training step's inputs: checks and grouping (see train_items.h). Legend: see train_items.h.
#include "model/train_items.h"

#include <algorithm>

namespace stic::model {

Status validatePair(const LlavaConfig& cfg, const PairInput& pair, const TokenRows& tokenRows, const std::string& where) {
  STIC_RETURN_IF_ERROR(validateSequence(cfg, Sequence{pair.prompt, pair.images}, tokenRows, where + ".promptIds"));
  const std::pair<const char*, const std::vector<int64_t>*> responses[] = {{"chosenIds", &pair.chosen},
                                                                           {"rejectedIds", &pair.rejected}};
  for (auto& [name, ids] : responses) {
    STIC_CHECK_ARG(!ids->empty(), where, ".", name, ": expected at least one response token but found none");
    for (size_t t = 0; t < ids->size(); t++) {
      const int64_t id = (*ids)[t];
      STIC_CHECK_ARG(id != cfg.imageTokenId, where, ".", name, "[", t, "]: expected a text token but found the image token ", id,
                     " (images belong in the prompt)");
      STIC_CHECK_ARG(id >= 0 && id < cfg.decoder.vocabSize, where, ".", name, "[", t, "]: token id ", id,
                     " is outside the vocabulary [0, ", cfg.decoder.vocabSize, ")");
    }
  }
  return Status::ok();
}

Status validateSftItem(const LlavaConfig& cfg, const SftItem& item, const TokenRows& tokenRows, const std::string& where,
                       bool targetRequired) {
  const std::vector<int64_t>& ids = item.seq.ids;
  const int64_t V = cfg.decoder.vocabSize, T = static_cast<int64_t>(ids.size()), N = static_cast<int64_t>(tokenRows.size());
  STIC_CHECK_ARG(T >= 2, where, ".ids: expected at least 2 token ids (a context and a target) but found ", T);
  STIC_CHECK_ARG(static_cast<int64_t>(item.mask.size()) == T, where, ".mask: expected ", T, " values (one per token) but found ",
                 item.mask.size());
  STIC_CHECK_ARG(item.mask[0] == 0, where, ".mask[0]: the first token has no context to be predicted from, so it cannot be a target");
  int64_t imageTokens = 0, targets = 0;
  for (int64_t t = 0; t < T; t++) {
    targets += item.mask[t] ? 1 : 0;
    if (ids[t] == cfg.imageTokenId) {
      imageTokens++;
      STIC_CHECK_ARG(!item.mask[t], where, ".mask[", t, "]: token ", t, " is an image token, which cannot be a target");
      continue;
    }
    STIC_CHECK_ARG(ids[t] >= 0 && ids[t] < V, where, ".ids[", t, "]: token id ", ids[t], " is outside the vocabulary [0, ", V, ")");
  }
  const std::vector<int64_t>& images = item.seq.images;
  for (size_t k = 0; k < images.size(); k++) {
    STIC_CHECK_ARG(images[k] >= 0 && images[k] < N, where, ".images[", k, "]: image index ", images[k],
                   " is out of range for a batch of ", N, " image(s)");
  }
  STIC_RETURN_IF_ERROR(validateImageTokenCount(cfg, images, tokenRows, imageTokens, where));
  STIC_CHECK_ARG(targets > 0 || !targetRequired, where, ".mask: expected at least one target token but found none");
  return Status::ok();
}

Status validateSftItems(const LlavaConfig& cfg, const std::vector<SftItem>& items, const TokenRows& tokenRows, bool targetRequired) {
  STIC_CHECK_ARG(!items.empty(), "items: expected at least one SFT item but found none");
  for (size_t i = 0; i < items.size(); i++) {
    STIC_RETURN_IF_ERROR(validateSftItem(cfg, items[i], tokenRows, "items[" + std::to_string(i) + "]", targetRequired));
  }
  return Status::ok();
}

std::vector<PassGroup> groupPairs(const std::vector<PairInput>& pairs, const LlavaConfig& cfg, const TokenRows& tokenRows, bool shared) {
  std::vector<int64_t> rows;
  for (const PairInput& p : pairs) rows.push_back(pairRows(p, shared));
  std::vector<PassGroup> groups;
  for (auto [b, e] : packGroups(rows, kPassTokenBudget)) {
    PassGroup g;
    g.begin = b;
    g.end = e;
    std::vector<PairRows> heads;
    for (size_t i = b; i < e; i++) heads.push_back(appendPair(g.layout, pairs[i], cfg.imageTokenId, tokenRows, shared));
    const int64_t Bg = static_cast<int64_t>(e - b);
    for (int64_t i = 0; i < Bg; i++) {
      for (const HeadEntry& h : heads[i].chosen) g.entries.push_back(h), g.seq.push_back(i);
    }
    g.firstRejected = static_cast<int64_t>(g.entries.size());
    for (int64_t i = 0; i < Bg; i++) {
      for (const HeadEntry& h : heads[i].rejected) g.entries.push_back(h), g.seq.push_back(Bg + i);
    }
    groups.push_back(std::move(g));
  }
  return groups;
}

// The rows each item takes: its ids up to its last target (none without a target), or all of them.
int64_t itemRows(const SftItem& item, bool whole) {
  if (whole) return static_cast<int64_t>(item.seq.ids.size());
  int64_t last = 0;
  for (size_t t = 0; t < item.mask.size(); t++) {
    if (item.mask[t]) last = static_cast<int64_t>(t);
  }
  return last;
}

std::vector<SftGroup> groupItems(const std::vector<SftItem>& items, const LlavaConfig& cfg, const TokenRows& tokenRows,
                                 int64_t rowBudget, bool whole) {
  std::vector<size_t> which;
  std::vector<int64_t> lengths;
  for (size_t i = 0; i < items.size(); i++) {
    const int64_t rows = itemRows(items[i], whole);
    if (rows == 0) continue;
    which.push_back(i);
    lengths.push_back(rows);
  }
  std::vector<SftGroup> groups;
  for (auto [b, e] : packGroups(lengths, rowBudget)) {
    SftGroup g;
    for (size_t k = b; k < e; k++) {
      const SftItem& it = items[which[k]];
      std::vector<int64_t> ids(it.seq.ids.begin(), it.seq.ids.begin() + lengths[k]);
      const int64_t first = appendSequence(g.layout, ids, it.seq.images, cfg.imageTokenId, tokenRows);
      const int64_t last = std::min<int64_t>(lengths[k], static_cast<int64_t>(it.seq.ids.size()) - 1);
      for (int64_t t = 1; t <= last; t++) {
        if (it.mask[t]) g.entries.push_back({first + t - 1, it.seq.ids[t]});
      }
    }
    groups.push_back(std::move(g));
  }
  return groups;
}

}  // namespace stic::model
