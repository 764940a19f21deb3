// Packed pass layouts (see pass_layout.h). Legend: T rows, P prompt, C/R response tokens.
#include "model/pass_layout.h"

#include <algorithm>

namespace stic::model {

int64_t AttnSegment::keyLen() const {
  int64_t n = cached;
  for (const KeyPiece& k : keys) n += k.len;
  return n;
}

bool AttnSegment::contiguous() const {
  for (size_t i = 1; i < keys.size(); i++) {
    if (keys[i - 1].row + keys[i - 1].len != keys[i].row) return false;
  }
  return true;
}

int64_t PassLayout::maxKeys() const {
  int64_t n = 0;
  for (const AttnSegment& s : segments) n = std::max(n, s.keyLen());
  return n;
}

namespace {

// Appends rows for `ids` at positions pos0.. and returns the first row. Image tokens take the next
// feature row of the next of `images` (tokenRows[image] rows each, in order).
int64_t appendRows(PassLayout& layout, const std::vector<int64_t>& ids, size_t begin, size_t end, int64_t pos0,
                   const std::vector<int64_t>& images, int64_t imageTokenId, const TokenRows& tokenRows) {
  const int64_t first = layout.rows();
  size_t image = 0, row = 0;  // the image the next image token belongs to, and its row
  for (size_t t = begin; t < end; t++) {
    layout.ids.push_back(ids[t]);
    layout.pos.push_back(pos0 + static_cast<int64_t>(t - begin));
    if (ids[t] == imageTokenId) {
      const std::vector<int64_t>& rows = tokenRows[images[image]];
      layout.featureRow.push_back(rows[row]);
      if (++row == rows.size()) row = 0, image++;
    } else {
      layout.featureRow.push_back(-1);
    }
  }
  return first;
}

// A response continuing after `prefixRows` (the pieces holding the tokens before it): rows for its
// tokens but the last, one segment, and the head entries of all its tokens.
std::vector<HeadEntry> appendBranch(PassLayout& layout, const std::vector<KeyPiece>& prefix, int64_t lastPrefixRow,
                                    int64_t pos0, const std::vector<int64_t>& response) {
  const int64_t n = static_cast<int64_t>(response.size());
  const int64_t first = appendRows(layout, response, 0, response.size() - 1, pos0, {}, -1, {});
  if (n > 1) {
    AttnSegment s{first, n - 1, prefix};
    s.keys.push_back({first, n - 1});
    layout.segments.push_back(std::move(s));
  }
  std::vector<HeadEntry> heads;
  for (int64_t j = 0; j < n; j++) heads.push_back({j == 0 ? lastPrefixRow : first + j - 1, response[j]});
  return heads;
}

}  // namespace

int64_t appendSequence(PassLayout& layout, const std::vector<int64_t>& ids, const std::vector<int64_t>& images,
                       int64_t imageTokenId, const TokenRows& tokenRows, int64_t slot) {
  const int64_t first = appendRows(layout, ids, 0, ids.size(), 0, images, imageTokenId, tokenRows);
  const int64_t n = static_cast<int64_t>(ids.size());
  layout.segments.push_back({first, n, {{first, n}}, slot, 0});
  return first;
}

int64_t appendCachedToken(PassLayout& layout, int64_t id, int64_t slot, int64_t cached) {
  const int64_t row = layout.rows();
  layout.ids.push_back(id);
  layout.pos.push_back(cached);
  layout.featureRow.push_back(-1);
  layout.segments.push_back({row, 1, {{row, 1}}, slot, cached});
  return row;
}

PairRows appendPair(PassLayout& layout, const PairInput& pair, int64_t imageTokenId, const TokenRows& tokenRows, bool sharedPrefix) {
  const int64_t P = static_cast<int64_t>(pair.prompt.size());
  PairRows out;
  if (sharedPrefix) {
    const int64_t p0 = appendSequence(layout, pair.prompt, pair.images, imageTokenId, tokenRows);
    const std::vector<KeyPiece> prefix = {{p0, P}};
    out.chosen = appendBranch(layout, prefix, p0 + P - 1, P, pair.chosen);
    out.rejected = appendBranch(layout, prefix, p0 + P - 1, P, pair.rejected);
    return out;
  }
  for (const std::vector<int64_t>* response : {&pair.chosen, &pair.rejected}) {
    // One causal sequence: prompt rows, then the response as a branch whose keys continue them.
    const int64_t p0 = appendSequence(layout, pair.prompt, pair.images, imageTokenId, tokenRows);
    const int64_t first = layout.rows();
    std::vector<HeadEntry> heads = appendBranch(layout, {{p0, P}}, p0 + P - 1, P, *response);
    if (layout.rows() > first) {
      // Fold the branch into the prompt's segment: one ordinary causal sequence.
      AttnSegment branch = layout.segments.back();
      layout.segments.pop_back();
      AttnSegment& seq = layout.segments.back();
      seq.qLen += branch.qLen;
      seq.keys = {{p0, P + branch.qLen}};
    }
    (response == &pair.chosen ? out.chosen : out.rejected) = std::move(heads);
  }
  return out;
}

int64_t pairRows(const PairInput& pair, bool sharedPrefix) {
  const int64_t P = static_cast<int64_t>(pair.prompt.size());
  const int64_t C = static_cast<int64_t>(pair.chosen.size()) - 1, R = static_cast<int64_t>(pair.rejected.size()) - 1;
  return sharedPrefix ? P + C + R : 2 * P + C + R;
}

}  // namespace stic::model
